package org.lmcache4j.cli;

/**
 * LMCache's MRU: the most recently used chunk goes. In a prefix cache that is the prefix of the
 * prompt served just before (or of this very prompt), so it keeps old chunks and drops the ones
 * in use: a policy for scans, listed because LMCache offers it.
 */
final class SimulatedMru extends RecencyPolicy {
    SimulatedMru(int capacity, ChunkedTrace trace) {
        super(capacity, trace.chunks());
    }

    @Override
    public String name() {
        return "mru";
    }

    /** LMCache's MRU drops the prefix the request just used, as it always did. */
    @Override
    boolean sparesPromptPrefix() {
        return false;
    }

    @Override
    int victim(int newestEvictable) {
        return newestEvictable;
    }
}
