package org.lmcache4j.cli;

/**
 * LMCache's FIFO: chunks go in the order they came; a hit changes nothing. A prompt's new chunks
 * come in from the last to the first, so its suffix leaves before its prefix.
 */
final class SimulatedFifo implements SimulatedPolicy {
    private final int capacity;
    private final KeyList queue;

    SimulatedFifo(int capacity, ChunkedTrace trace) {
        this.capacity = capacity;
        this.queue = new KeyList(trace.chunks());
    }

    @Override
    public String name() {
        return "fifo";
    }

    @Override
    public boolean contains(int key) {
        return queue.contains(key);
    }

    @Override
    public void hit(int key) {
    }

    @Override
    public void insert(int key) {
        if (queue.contains(key)) {
            return;
        }
        if (queue.size() >= capacity) {
            queue.remove(queue.first());
        }
        queue.addLast(key);
    }
}
