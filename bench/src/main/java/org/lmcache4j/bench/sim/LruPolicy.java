package org.lmcache4j.bench.sim;

import java.util.LinkedHashSet;

/**
 * The engine's LRU ({@code ChunkIndex}): the request's cached chunks are touched from last to
 * first, its new chunks added, then all of them touched from last to first again, so the prompt
 * ends with its prefix most recently used.
 */
final class LruPolicy implements Policy {
    private final int capacity;
    /** Iteration order: least recently used first. */
    private final LinkedHashSet<Integer> order = new LinkedHashSet<>();

    LruPolicy(int capacity) {
        this.capacity = capacity;
    }

    @Override
    public String name() {
        return "LRU";
    }

    @Override
    public boolean contains(int key) {
        return order.contains(key);
    }

    @Override
    public void hit(int key) {
        if (order.remove(key)) {
            order.add(key);
        }
    }

    @Override
    public void insert(int key) {
        if (order.size() >= capacity) {
            order.removeFirst();
        }
        order.add(key);
    }

    @Override
    public void apply(int[] keys, boolean[] present) {
        Policy.super.apply(keys, present);
        for (int i = keys.length - 1; i >= 0; i--) {
            hit(keys[i]);
        }
    }
}
