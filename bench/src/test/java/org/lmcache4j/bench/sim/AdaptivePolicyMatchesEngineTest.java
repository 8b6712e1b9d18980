package org.lmcache4j.bench.sim;

import org.junit.jupiter.api.Test;
import org.lmcache4j.CacheEngine;
import org.lmcache4j.EngineConfig;
import org.lmcache4j.KeyScope;
import org.lmcache4j.KvDtype;
import org.lmcache4j.KvFormat;
import org.lmcache4j.KvLayout;
import org.lmcache4j.keys.ChunkHasher;
import org.lmcache4j.keys.ChunkKey;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.function.IntFunction;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The engine under {@code cache_policy} ADAPTIVE (and LRU) and the simulator's policy of the same
 * name make the same decisions: on a slice of the Mooncake trace, each prompt looked up then
 * stored whole, every request's hit tokens are the same in both.
 */
class AdaptivePolicyMatchesEngineTest {
    private static final Path MOONCAKE = Path.of(System.getProperty("mooncake.trace",
            "/work/shared/traces/mooncake-conversation.jsonl"));
    private static final int CHUNK = 256;
    private static final int POOL_CHUNKS = 1600;
    private static final KvLayout LAYOUT = new KvLayout(1, 1, 8, KvDtype.BFLOAT16, 16, 4096, KvFormat.FLASH_ATTN);

    @Test
    void adaptive_sameHitsAsTheSimulator_andLeavesLruOnThisTraffic() throws Exception {
        Trace trace = MooncakeTraces.read(MOONCAKE, 512, CHUNK, 6000);
        Map<Integer, ChunkKey> keys = engineKeys(trace);
        long[] engine = engineHits(trace, "ADAPTIVE");
        AdaptivePolicy sim = new AdaptivePolicy(POOL_CHUNKS, k -> (int) keys.get(k).lo());
        long[] simulated = simulatedHits(trace, sim);
        assertEquals(List.of(boxed(simulated)), List.of(boxed(engine)), "hit tokens per request");
        long lru = sum(engineHits(trace, "LRU"));
        assertTrue(sum(engine) > lru * 1.1, "ADAPTIVE " + sum(engine) + " vs LRU " + lru + " hit tokens");
    }

    @Test
    void lru_sameHitsAsTheSimulator() throws Exception {
        Trace trace = MooncakeTraces.read(MOONCAKE, 512, CHUNK, 1000);
        assertEquals(List.of(boxed(simulatedHits(trace, new LruPolicy(POOL_CHUNKS)))),
                List.of(boxed(engineHits(trace, "LRU"))));
    }

    /** Each chunk's tokens come from its key alone (a Mooncake id stands for its whole prefix). */
    private static int[] tokens(Trace.Request r) {
        int n = 0;
        for (int t : r.tokens()) {
            n += t;
        }
        int[] tokens = new int[n];
        int at = 0;
        for (int c = 0; c < r.keys().length; c++) {
            for (int i = 0; i < r.tokens()[c]; i++) {
                tokens[at++] = i == 0 ? r.keys()[c] : (r.keys()[c] * 31 + i) & 0x7fff;
            }
        }
        return tokens;
    }

    private static Map<Integer, ChunkKey> engineKeys(Trace trace) {
        ChunkHasher hasher = new ChunkHasher("policy-test", 1, 0, CHUNK, LAYOUT);
        Map<Integer, ChunkKey> keys = new HashMap<>();
        for (Trace.Request r : trace.requests()) {
            ChunkKey[] k = hasher.keys(KeyScope.NONE, tokens(r));
            for (int c = 0; c < k.length; c++) {
                keys.put(r.keys()[c], k[c]);
            }
        }
        return keys;
    }

    private static long[] engineHits(Trace trace, String policy) {
        EngineConfig config = EngineConfig.builder().chunkSize(CHUNK).cachePolicy(policy)
                .maxLocalCpuSizeGb(POOL_CHUNKS * LAYOUT.chunkBytes(CHUNK) / (double) EngineConfig.GB).build();
        long[] hits = new long[trace.requests().size()];
        try (Arena arena = Arena.ofShared();
             CacheEngine engine = CacheEngine.builder().config(config).layout(LAYOUT).model("policy-test")
                     .slabTargetBytes(1 << 20).open()) {
            MemorySegment cache = arena.allocate(LAYOUT.layerCacheBytes(), 64);
            engine.registerKvCaches(List.of(cache));
            assertEquals(POOL_CHUNKS, engine.stats().capacityPages());
            long[] slots = new long[LAYOUT.numBlocks() * LAYOUT.blockSize()];
            for (int i = 0; i < slots.length; i++) {
                slots[i] = i;
            }
            for (int i = 0; i < hits.length; i++) {
                int[] tokens = tokens(trace.requests().get(i));
                hits[i] = engine.lookup(tokens);
                engine.store(tokens, java.util.Arrays.copyOf(slots, tokens.length), 0);
            }
            engine.clear();
            assertEquals(0, engine.stats().pagesInUse());
            assertEquals(0, engine.stats().leases());
        }
        return hits;
    }

    private static long[] simulatedHits(Trace trace, Policy policy) {
        long[] hits = new long[trace.requests().size()];
        for (int i = 0; i < hits.length; i++) {
            Trace.Request r = trace.requests().get(i);
            boolean[] present = new boolean[r.keys().length];
            boolean leading = true;
            for (int c = 0; c < present.length; c++) {
                present[c] = policy.contains(r.keys()[c]);
                leading &= present[c];
                if (leading) {
                    hits[i] += r.tokens()[c];
                }
            }
            policy.apply(r.keys(), present);
        }
        return hits;
    }

    private static Long[] boxed(long[] a) {
        return java.util.Arrays.stream(a).boxed().toArray(Long[]::new);
    }

    private static long sum(long[] a) {
        return java.util.Arrays.stream(a).sum();
    }
}
