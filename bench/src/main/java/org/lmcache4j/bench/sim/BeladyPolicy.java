package org.lmcache4j.bench.sim;

import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;

/**
 * Bélády's optimum, the ceiling of the chunk hit rate: knowing the future, it evicts the chunk
 * whose next use is farthest away, and declines to cache a chunk used later than everything it
 * holds. Time is the request index: all chunks of one prompt are used at the same moment. It is
 * not the ceiling of the prefix hit rate (it may keep a suffix whose prefix it dropped).
 */
final class BeladyPolicy implements Policy {
    private static final int NEVER = Integer.MAX_VALUE;

    private final int capacity;
    /** For request r, chunk i: the index of the next request that uses the same key, or NEVER. */
    private final int[][] nextUse;
    /** Cached keys by next use: {nextUse, key}, farthest first. */
    private final TreeSet<long[]> byNextUse = new TreeSet<>((a, b) -> a[0] != b[0]
            ? Long.compare(b[0], a[0]) : Long.compare(a[1], b[1]));
    private final Map<Integer, long[]> cached = new HashMap<>();
    private int request = -1;
    private int[] keys;

    BeladyPolicy(int capacity, List<Trace.Request> requests) {
        this.capacity = capacity;
        this.nextUse = new int[requests.size()][];
        Map<Integer, Integer> next = new HashMap<>();
        for (int r = requests.size() - 1; r >= 0; r--) {
            int[] k = requests.get(r).keys();
            nextUse[r] = new int[k.length];
            for (int i = 0; i < k.length; i++) {
                nextUse[r][i] = next.getOrDefault(k[i], NEVER);
            }
            for (int key : k) {
                next.put(key, r);
            }
        }
    }

    @Override
    public String name() {
        return "Belady";
    }

    @Override
    public boolean contains(int key) {
        return cached.containsKey(key);
    }

    @Override
    public void apply(int[] keys, boolean[] present) {
        request++;
        this.keys = keys;
        Policy.super.apply(keys, present);
    }

    @Override
    public void hit(int key) {
        long[] old = cached.remove(key);
        byNextUse.remove(old);
        put(key, next(key));
    }

    @Override
    public void insert(int key) {
        int next = next(key);
        if (cached.size() >= capacity) {
            long[] farthest = byNextUse.first();
            if (farthest[0] <= next) {
                return; // everything cached is needed sooner than this chunk
            }
            byNextUse.pollFirst();
            cached.remove((int) farthest[1]);
        }
        put(key, next);
    }

    private void put(int key, int next) {
        long[] e = {next, key};
        cached.put(key, e);
        byNextUse.add(e);
    }

    private int next(int key) {
        for (int i = 0; i < keys.length; i++) {
            if (keys[i] == key) {
                return nextUse[request][i];
            }
        }
        throw new IllegalStateException("key " + key + " is not in request " + request);
    }
}
