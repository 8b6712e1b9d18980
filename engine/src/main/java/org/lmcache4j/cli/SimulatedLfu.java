package org.lmcache4j.cli;

import java.util.Comparator;
import java.util.TreeSet;

/**
 * LMCache's LFU: a chunk counts its uses (1 when stored, one more each hit) and the least used
 * goes; among equally used chunks the one that reached that count first goes (LMCache keeps a
 * FIFO per count). Counts never age. O(log n) a use: each cached chunk has one entry
 * {@code {count, arrival, key}} in a sorted set.
 */
final class SimulatedLfu implements SimulatedPolicy {
    private final int capacity;
    /** Per chunk its entry in {@link #byCount}; null when not cached. */
    private final long[][] entry;
    private final TreeSet<long[]> byCount = new TreeSet<>(Comparator.<long[]>comparingLong(e -> e[0])
            .thenComparingLong(e -> e[1]));
    private long arrivals;

    SimulatedLfu(int capacity, ChunkedTrace trace) {
        this.capacity = capacity;
        this.entry = new long[trace.chunks()][];
    }

    @Override
    public String name() {
        return "lfu";
    }

    @Override
    public boolean contains(int key) {
        return entry[key] != null;
    }

    @Override
    public void hit(int key) {
        long[] old = entry[key];
        byCount.remove(old);
        put(key, old[0] + 1);
    }

    @Override
    public void insert(int key) {
        if (entry[key] != null) {
            return;
        }
        if (byCount.size() >= capacity) {
            entry[(int) byCount.pollFirst()[2]] = null;
        }
        put(key, 1);
    }

    private void put(int key, long count) {
        long[] e = {count, ++arrivals, key};
        entry[key] = e;
        byCount.add(e);
    }
}
