package org.lmcache4j.cli;

import java.util.Comparator;
import java.util.TreeSet;

/**
 * The offline optimum (Bélády's MIN), the ceiling any policy is measured against: knowing the
 * whole trace, it evicts the chunk whose next use is the farthest away, and does not cache a chunk
 * used no sooner than everything it holds (nor one never used again). Time is the request: a
 * prompt's chunks are used together.
 *
 * <p>Prefixes: a request that uses a chunk uses its whole prefix, so a chunk's next use is never
 * before its parent's. Ties go to the deeper chunk, and a prompt's missing chunks are offered from
 * the first to the last, so the cache stays prefix-closed (no chunk without its parent) and every
 * chunk hit is a prefix hit: the most chunk hits any policy can have, hence its prefix hit rate is
 * the ceiling for full chunks (a partial last chunk weighs fewer tokens, so there it is the
 * ceiling of hits, a hair from that of tokens).
 */
final class OptimumPolicy implements SimulatedPolicy {
    private static final int NEVER = Integer.MAX_VALUE;

    private final int capacity;
    /** {@code nextUse[r][i]}: the next request after r that uses request r's chunk i, or NEVER. */
    private final int[][] nextUse;
    /** Per chunk its entry {@code {next use, depth, key}}; null when not cached. */
    private final long[][] entry;
    /** Farthest next use first; among equals, the deepest first. */
    private final TreeSet<long[]> byNextUse = new TreeSet<>(Comparator.<long[]>comparingLong(e -> -e[0])
            .thenComparingLong(e -> -e[1]).thenComparingLong(e -> e[2]));
    private int request = -1;

    OptimumPolicy(int capacity, ChunkedTrace trace) {
        this.capacity = capacity;
        this.entry = new long[trace.chunks()][];
        this.nextUse = new int[trace.requests()][];
        int[] next = new int[trace.chunks()];
        java.util.Arrays.fill(next, NEVER);
        for (int r = trace.requests() - 1; r >= 0; r--) {
            int[] keys = trace.keys[r];
            nextUse[r] = new int[keys.length];
            for (int i = 0; i < keys.length; i++) {
                nextUse[r][i] = next[keys[i]];
            }
            for (int key : keys) {
                next[key] = r;
            }
        }
    }

    @Override
    public String name() {
        return "optimum";
    }

    @Override
    public boolean contains(int key) {
        return entry[key] != null;
    }

    @Override
    public void apply(int[] keys, boolean[] present) {
        request++;
        for (int i = 0; i < keys.length; i++) {
            if (present[i]) {
                used(keys[i], i);
            }
        }
        for (int i = 0; i < keys.length; i++) {
            if (!present[i] && entry[keys[i]] == null) {
                offer(keys[i], i);
            }
        }
    }

    /** A present chunk was used now: it moves to its next use. */
    private void used(int key, int depth) {
        if (entry[key] != null) { // null: a chunk named twice in one prompt, met again
            byNextUse.remove(entry[key]);
            entry[key] = null;
        }
        if (nextUse[request][depth] != NEVER) {
            put(key, depth);
        }
    }

    private void offer(int key, int depth) {
        int next = nextUse[request][depth];
        if (next == NEVER) {
            return;
        }
        if (byNextUse.size() >= capacity) {
            long[] farthest = byNextUse.first();
            if (farthest[0] < next || farthest[0] == next && farthest[1] <= depth) {
                return; // everything cached is needed sooner than this chunk
            }
            byNextUse.pollFirst();
            entry[(int) farthest[2]] = null;
        }
        put(key, depth);
    }

    private void put(int key, int depth) {
        long[] e = {nextUse[request][depth], depth, key};
        entry[key] = e;
        byNextUse.add(e);
    }

    @Override
    public void hit(int key) {
        throw new UnsupportedOperationException("the optimum applies whole requests");
    }

    @Override
    public void insert(int key) {
        throw new UnsupportedOperationException("the optimum applies whole requests");
    }
}
