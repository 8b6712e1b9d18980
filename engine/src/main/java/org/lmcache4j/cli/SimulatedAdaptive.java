package org.lmcache4j.cli;

import java.util.function.IntUnaryOperator;

/**
 * The engine's {@code cache_policy: ADAPTIVE} in the simulator (same decisions; see the engine's
 * {@code AdaptivePolicy} for the design): two {@link RankedCache} shadows of the pool's size, LRU
 * and LRU-2, replay every prompt; the pool, an LRU list, evicts first the chunks the leading
 * shadow does not hold, in the order it came to lack them, and stores nothing the leader declined.
 *
 * <p>The shadows' history tables are indexed by the chunk's 32-bit hash: {@code simulate} hashes
 * its chunk numbers ({@link #mix}); with the engine's key hashes
 * ({@code AdaptivePolicyMatchesEngineTest}) the decisions are the engine's, request by request.
 */
final class SimulatedAdaptive extends RecencyPolicy {
    /** The engine's {@code AdaptivePolicy} constants. */
    static final double Z = 3.5;
    static final int DECAY = 4096;
    static final long INFINITE = Long.MAX_VALUE / 4;
    private static final int NO_PARENT = -1;

    private final RankedCache[] shadows;
    /** Per shadow, the pool's chunks it does not hold, oldest lack first. */
    private final KeyList[] lacking;
    private final int[] parent;
    private final int[] children;
    /** The request that last protected a chunk (its new chunks, leased while stored), by chunk. */
    private final int[] protectedBy;
    private int request;
    private int previous = KeyList.NONE;
    private double score;
    private double squares;
    private int leader;

    SimulatedAdaptive(int capacity, ChunkedTrace trace) {
        this(capacity, trace.chunks(), SimulatedAdaptive::mix);
    }

    /** {@code hash}: the key's 32-bit hash, as the engine takes it from the chunk key. */
    SimulatedAdaptive(int capacity, int keys, IntUnaryOperator hash) {
        super(capacity, keys);
        shadows = new RankedCache[] {new RankedCache(capacity, 0, hash), new RankedCache(capacity, INFINITE, hash)};
        lacking = new KeyList[] {new KeyList(keys), new KeyList(keys)};
        parent = new int[keys];
        java.util.Arrays.fill(parent, NO_PARENT);
        children = new int[keys];
        protectedBy = new int[keys];
        for (int s = 0; s < 2; s++) {
            KeyList lacks = lacking[s];
            shadows[s].listener = new RankedCache.Listener() {
                @Override
                public void admitted(int key) {
                    if (lacks.contains(key)) {
                        lacks.remove(key);
                    }
                }

                @Override
                public void evicted(int key) {
                    if (order.contains(key)) {
                        lacks.addLast(key);
                    }
                }
            };
        }
    }

    static int mix(int key) {
        int h = key * 0x9E3779B1;
        return h ^ (h >>> 16);
    }

    @Override
    public String name() {
        return "adaptive";
    }

    @Override
    public void apply(int[] keys, boolean[] present) {
        if (keys.length == 0) {
            return;
        }
        request++;
        int d = shadows[1].request(keys) - shadows[0].request(keys);
        score = score * (1 - 1.0 / DECAY) + d;
        squares = squares * (1 - 1.0 / DECAY) + (double) d * d;
        leader = score > 0 && score * score > Z * Z * squares ? 1 : 0;
        for (int c = 1; c < keys.length; c++) {
            parent[keys[c]] = keys[c - 1];
        }
        super.apply(keys, present);
    }

    @Override
    int victim(int newestEvictable) {
        for (int k = lacking[leader].first(); k != KeyList.NONE; k = lacking[leader].after(k)) {
            if (evictable(k)) {
                return k;
            }
        }
        for (int k = order.first(); k != KeyList.NONE; k = order.after(k)) {
            if (evictable(k)) {
                return k;
            }
        }
        return KeyList.NONE;
    }

    /** The engine's victim test: not leased by this store, not the new chunk's prefix, not continued. */
    private boolean evictable(int key) {
        return protectedBy[key] != request && key != previous && children[key] == 0;
    }

    @Override
    boolean admits(int[] keys, int index) {
        return !shadows[leader].declinedLast(keys[index]);
    }

    @Override
    void makingRoom(int[] keys, int index) {
        previous = index == 0 || !order.contains(keys[index - 1]) ? KeyList.NONE : keys[index - 1];
    }

    @Override
    void adding(int[] keys, int index) {
        int key = keys[index];
        protectedBy[key] = request;
        int p = parent[key];
        if (index > 0 && p != NO_PARENT && order.contains(p)) {
            children[p]++;
        }
        for (int s = 0; s < 2; s++) {
            if (!shadows[s].contains(key)) {
                lacking[s].addLast(key);
            }
        }
    }

    @Override
    void evicting(int key) {
        int p = parent[key];
        if (p != NO_PARENT && order.contains(p) && children[p] > 0) {
            children[p]--;
        }
        for (KeyList lacks : lacking) {
            if (lacks.contains(key)) {
                lacks.remove(key);
            }
        }
    }
}
