package org.lmcache4j.cli;

/** The engine's LRU ({@code ChunkIndex}, {@code cache_policy: LRU}): the least recently used chunk goes. */
final class SimulatedLru extends RecencyPolicy {
    SimulatedLru(int capacity, ChunkedTrace trace) {
        super(capacity, trace.chunks());
    }

    @Override
    public String name() {
        return "lru";
    }

    @Override
    int victim(int newestEvictable) {
        return order.first();
    }
}
