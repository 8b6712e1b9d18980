package org.lmcache4j.bench.sim;

import java.util.LinkedHashSet;

/** First in, first out: hits change nothing. */
final class FifoPolicy implements Policy {
    private final int capacity;
    private final LinkedHashSet<Integer> queue = new LinkedHashSet<>();

    FifoPolicy(int capacity) {
        this.capacity = capacity;
    }

    @Override
    public String name() {
        return "FIFO";
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
        if (queue.size() >= capacity) {
            queue.removeFirst();
        }
        queue.add(key);
    }
}
