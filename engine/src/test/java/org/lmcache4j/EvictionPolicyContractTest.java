package org.lmcache4j;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.FieldSource;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Every {@code cache_policy} under the same contract, on a pool far smaller than a chat workload:
 * prefix contiguity after every request, pinned chunks never evicted, the same hits on every run,
 * and nothing leaked (the fixture checks leases, pins and pages at close).
 */
class EvictionPolicyContractTest {
    static final List<String> POLICIES = EvictionPolicy.NAMES;
    private static final int POOL = 12;

    /** Users' prompts: a shared 2-chunk system prompt, then the user's history, longer each round. */
    private static List<int[]> chat(long seed) {
        Random rnd = new Random(seed);
        int[] rounds = new int[9];
        List<int[]> prompts = new ArrayList<>();
        for (int i = 0; i < 120; i++) {
            int user = rnd.nextInt(rounds.length);
            int chunks = 2 + Math.min(6, ++rounds[user]);
            int[] p = new int[chunks * 256 - rnd.nextInt(200)];
            for (int t = 0; t < p.length; t++) {
                p[t] = t < 512 ? t : user * 100_000 + t;
            }
            prompts.add(p);
        }
        return prompts;
    }

    private static EngineFixture fixture(String policy) {
        return new EngineFixture(EngineConfig.builder().cachePolicy(policy)
                .maxLocalCpuSizeGb(POOL * EngineFixture.LAYOUT.chunkBytes(256) / (double) EngineConfig.GB).build());
    }

    private static List<Integer> run(EngineFixture f, List<int[]> prompts, boolean checkContiguity) {
        List<Integer> hits = new ArrayList<>();
        long[] slots = TestCaches.randomSlots(f.caches.layout, 8 * 256, new Random(7));
        for (int[] p : prompts) {
            hits.add(f.engine.lookup(p));
            f.engine.store(p, Arrays.copyOf(slots, p.length), 0);
            if (checkContiguity) {
                assertPrefixesCached(f.engine);
            }
        }
        return hits;
    }

    /** Every cached chunk's parent is cached too: no suffix outlives its prefix. */
    static void assertPrefixesCached(CacheEngine engine) {
        engine.locked(() -> {
            for (ChunkEntry e : engine.index().oldest(Integer.MAX_VALUE, x -> true)) {
                assertTrue(e.first || engine.index().get(e.parent) != null, "chunk " + e.key + " cached without its prefix");
            }
            return null;
        });
    }

    @ParameterizedTest
    @FieldSource("POLICIES")
    void everyRequest_leavesNoSuffixWithoutItsPrefix_andHitsSomething(String policy) {
        try (EngineFixture f = fixture(policy)) {
            List<Integer> hits = run(f, chat(1), true);
            assertEquals(policy, f.engine.index().policy().name());
            assertTrue(hits.stream().mapToInt(Integer::intValue).sum() > 0, policy + " never hit");
            assertTrue(f.engine.stats().chunks() <= POOL);
        }
    }

    @ParameterizedTest
    @FieldSource("POLICIES")
    void sameTrace_sameHits(String policy) {
        List<Integer> first;
        try (EngineFixture f = fixture(policy)) {
            first = run(f, chat(2), false);
        }
        try (EngineFixture f = fixture(policy)) {
            assertEquals(first, run(f, chat(2), false));
        }
    }

    /**
     * A chunk leased by someone else (a store of a longer prompt still copying it, a retrieve, a
     * spill) cannot go; its prefix must not go in its place, or the chunk is left cached without
     * its prefix, a page that can never hit (seen under threads: EvictionPolicyConcurrencyTest).
     */
    @ParameterizedTest
    @FieldSource("POLICIES")
    void aLeasedChunk_keepsItsPrefixFromEviction(String policy) {
        try (EngineFixture f = fixture(policy)) {
            long[] slots = TestCaches.randomSlots(f.caches.layout, 8 * 256, new Random(5));
            int[] kept = new int[768]; // three chunks no chat prompt shares
            for (int t = 0; t < kept.length; t++) {
                kept[t] = 900_000 + t;
            }
            f.engine.store(kept, Arrays.copyOf(slots, kept.length), 0);
            ChunkEntry second = f.engine.locked(() -> f.engine.index().oldest(Integer.MAX_VALUE, e -> e.holds(kept, 256, 512))
                    .getFirst());
            try (var lease = f.engine.locked(() -> f.engine.pool().lease(second.page))) {
                run(f, chat(6), true);
                assertTrue(f.engine.stats().evictions() > 0 || policy.equals("MRU"), policy);
            }
        }
    }

    @ParameterizedTest
    @FieldSource("POLICIES")
    void pinnedChunks_surviveAPoolsWorthOfNewPrompts(String policy) {
        try (EngineFixture f = fixture(policy)) {
            long[] slots = TestCaches.randomSlots(f.caches.layout, 8 * 256, new Random(3));
            int[] kept = chat(3).getFirst();
            f.engine.store(kept, Arrays.copyOf(slots, kept.length), 0);
            int pinned = f.engine.lookupAndPin("req-1", KeyScope.NONE, kept);
            assertTrue(pinned >= 512, policy + " pinned " + pinned);
            run(f, chat(4), true);
            assertEquals(pinned, f.engine.retrieve(kept, Arrays.copyOf(slots, kept.length), 0));
            f.engine.unpin("req-1");
        }
    }

    @ParameterizedTest
    @FieldSource("POLICIES")
    void storesWithoutLookups_stillMakeRoom(String policy) {
        try (EngineFixture f = fixture(policy)) {
            long[] slots = TestCaches.randomSlots(f.caches.layout, 8 * 256, new Random(5));
            List<int[]> prompts = chat(6);
            for (int[] p : prompts) {
                f.engine.store(p, Arrays.copyOf(slots, p.length), 0);
                assertPrefixesCached(f.engine);
            }
            int[] last = prompts.getLast();
            int newest = f.engine.lookup(last);
            assertTrue(f.engine.stats().evictions() > 0, policy);
            if (!policy.equals("MRU")) { // MRU's next store evicts what the last one stored
                assertTrue(newest >= 512, policy + " kept " + newest + " tokens of the newest prompt");
            }
        }
    }

    @ParameterizedTest
    @FieldSource("POLICIES")
    void chunksThePolicyDeclines_areCountedApartFromSkippedOnes(String policy) {
        try (EngineFixture f = fixture(policy)) {
            List<int[]> prompts = chat(8);
            run(f, prompts, false);
            EngineStats s = f.engine.stats();
            long notStored = prompts.stream().mapToLong(p -> (p.length + 255) / 256).sum() - s.chunks() - s.evictions();
            if (policy.equals("LRU") || policy.equals("FIFO")) {
                assertEquals(0, s.storeDeclinedChunks(), policy + " never declines: it evicts");
            }
            if (policy.equals("MRU")) {
                assertTrue(s.storeDeclinedChunks() > 0, "MRU on a full pool keeps what it has: " + s);
            }
            // every chunk a store did not keep is a hit it touched, a decline or a skip: none goes uncounted
            assertTrue(s.storeDeclinedChunks() + s.storeSkippedChunks() <= notStored, policy + " " + s);
            assertEquals(0, s.storeSkippedChunks(), policy + ": no page was held, nothing skipped");
        }
    }

    @Test
    void unknownPolicy_isRefusedByName() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> EngineConfig.builder().cachePolicy("CLOCK").build());
        assertTrue(e.getMessage().contains("CLOCK") && e.getMessage().contains("ADAPTIVE"), e.getMessage());
        assertEquals("ADAPTIVE", EngineConfig.builder().cachePolicy(" adaptive ").build().cachePolicy());
        assertNotNull(EvictionPolicy.of("lfu", 4));
    }
}
