package org.lmcache4j.bench.sim;

import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Random;
import java.util.Set;
import java.util.function.IntFunction;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Every policy on tiny hand-made traces whose answers are worked out by hand (or by brute force). */
class PoliciesTest {
    /** One single-chunk request per key: the classic one-access-at-a-time cache. */
    private static Trace singles(int... keys) {
        List<Trace.Request> requests = new ArrayList<>();
        Set<Integer> distinct = new HashSet<>();
        for (int k : keys) {
            requests.add(new Trace.Request("r" + requests.size(), new int[]{k}, new int[]{1}));
            distinct.add(k);
        }
        return new Trace(requests, distinct.size(), 0);
    }

    private static long hits(Trace trace, IntFunction<Policy> policy, int capacity) {
        return SimulationResult.run(trace, policy.apply(capacity), capacity).chunkHits();
    }

    @Test
    void lru_evictsTheLeastRecentlyUsed() {
        // cap 2: A B | A hit | C evicts B | B misses
        assertEquals(1, hits(singles(0, 1, 0, 2, 1), LruPolicy::new, 2));
    }

    @Test
    void fifo_evictsTheFirstInEvenIfHit() {
        // cap 2: A B | A hit (no reorder) | C evicts A | B hits
        assertEquals(2, hits(singles(0, 1, 0, 2, 1), FifoPolicy::new, 2));
    }

    @Test
    void lru_touchesAPromptFromLastToFirst_soItsSuffixGoesFirst() {
        List<Trace.Request> rs = List.of(
                new Trace.Request("a", new int[]{0, 1, 2}, new int[]{256, 256, 100}),
                new Trace.Request("b", new int[]{3}, new int[]{256}),
                new Trace.Request("c", new int[]{0, 1, 2}, new int[]{256, 256, 100}));
        SimulationResult r = SimulationResult.run(new Trace(rs, 4, 0), new LruPolicy(3), 3);
        assertEquals(2, r.chunkHits(), "request b evicted chunk 2, the suffix");
        assertEquals(512, r.prefixHitTokens());
        assertEquals(612 + 256 + 612, r.tokens());
    }

    @Test
    void prefixHitRate_countsNothingAfterAMiss() {
        // FIFO keeps chunk 1 and 2 but drops chunk 0: chunks hit, but no prefix does.
        List<Trace.Request> rs = List.of(
                new Trace.Request("a", new int[]{0, 1, 2}, new int[]{1, 1, 1}),
                new Trace.Request("b", new int[]{3}, new int[]{1}),
                new Trace.Request("c", new int[]{0, 1, 2}, new int[]{1, 1, 1}));
        // Inserted last to first: 2, 1, 0 — so FIFO's oldest is chunk 2.
        SimulationResult r = SimulationResult.run(new Trace(rs, 4, 0), new FifoPolicy(3), 3);
        assertEquals(2, r.chunkHits());
        assertEquals(2, r.prefixHitTokens());
    }

    @Test
    void s3fifoAndArc_resistAScan_lruAndFifoDoNot() {
        int[] keys = new int[5 + 5 + 100 + 5];
        int n = 0;
        for (int pass = 0; pass < 2; pass++) {
            for (int k = 0; k < 5; k++) {
                keys[n++] = k; // hot keys, each used twice
            }
        }
        for (int k = 100; k < 200; k++) {
            keys[n++] = k; // a scan of one-hit wonders
        }
        for (int k = 0; k < 5; k++) {
            keys[n++] = k;
        }
        Trace t = singles(keys);
        assertEquals(5, hits(t, LruPolicy::new, 10));
        assertEquals(5, hits(t, FifoPolicy::new, 10));
        assertEquals(10, hits(t, S3FifoPolicy::new, 10));
        assertEquals(10, hits(t, ArcPolicy::new, 10));
    }

    @Test
    void s3fifo_ghostHitGoesStraightToMain() {
        // cap 10 (small 1): key 0 once, then 10 cold keys push it out of S into the ghost; its
        // return lands in M, where a scan longer than the cache cannot reach it: S's newcomers go first.
        int[] keys = new int[1 + 10 + 1 + 20 + 1];
        int n = 0;
        keys[n++] = 0;
        for (int k = 100; k < 110; k++) {
            keys[n++] = k;
        }
        keys[n++] = 0; // ghost hit: a miss, into M
        for (int k = 200; k < 220; k++) {
            keys[n++] = k;
        }
        keys[n++] = 0;
        assertEquals(1, hits(singles(keys), S3FifoPolicy::new, 10));
        assertEquals(0, hits(singles(keys), FifoPolicy::new, 10));
    }

    @Test
    void arc_actsLikeLruOnRecencyOnlyTraffic() {
        assertEquals(hits(singles(0, 1, 0, 2, 1), LruPolicy::new, 2), hits(singles(0, 1, 0, 2, 1), ArcPolicy::new, 2));
    }

    @Test
    void belady_cyclicTrace_beatsLru() {
        // cap 2, A B C A B C A: LRU never hits; Bélády skips C, hits A and B, then keeps A.
        Trace t = singles(0, 1, 2, 0, 1, 2, 0);
        assertEquals(0, hits(t, LruPolicy::new, 2));
        assertEquals(3, hits(t, c -> new BeladyPolicy(c, t.requests()), 2));
    }

    @Test
    void belady_equalsBruteForceOptimum_onRandomTraces() {
        Random rnd = new Random(42);
        for (int trial = 0; trial < 300; trial++) {
            int[] keys = new int[4 + rnd.nextInt(8)];
            for (int i = 0; i < keys.length; i++) {
                keys[i] = rnd.nextInt(5);
            }
            int capacity = 1 + rnd.nextInt(3);
            Trace t = singles(keys);
            long belady = hits(t, c -> new BeladyPolicy(c, t.requests()), capacity);
            assertEquals(optimum(keys, 0, new HashSet<>(), capacity), belady, java.util.Arrays.toString(keys) + " cap " + capacity);
            for (IntFunction<Policy> other : EvictionSimulator.policies(t)) {
                assertTrue(hits(t, other, capacity) <= belady);
            }
        }
    }

    /** The most hits any choice of evictions (or of not caching) gets from position {@code i} on. */
    private static int optimum(int[] keys, int i, Set<Integer> cache, int capacity) {
        if (i == keys.length) {
            return 0;
        }
        if (cache.contains(keys[i])) {
            return 1 + optimum(keys, i + 1, cache, capacity);
        }
        int best = optimum(keys, i + 1, cache, capacity); // do not cache it
        if (cache.size() < capacity) {
            Set<Integer> next = new HashSet<>(cache);
            next.add(keys[i]);
            return Math.max(best, optimum(keys, i + 1, next, capacity));
        }
        for (int victim : cache) {
            Set<Integer> next = new HashSet<>(cache);
            next.remove(victim);
            next.add(keys[i]);
            best = Math.max(best, optimum(keys, i + 1, next, capacity));
        }
        return best;
    }
}
