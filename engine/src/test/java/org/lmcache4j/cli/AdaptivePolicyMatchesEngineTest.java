package org.lmcache4j.cli;

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
import java.util.Arrays;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The engine under {@code cache_policy} ADAPTIVE (and LRU) and {@code simulate}'s policy of the
 * same name make the same decisions: on a slice of the Mooncake trace, read by {@code simulate}'s
 * reader, each prompt (its tokens made as {@code replay --trace} makes them) looked up then stored
 * whole, every request's hit tokens are the same in both.
 */
class AdaptivePolicyMatchesEngineTest {
    private static final Path MOONCAKE = Path.of(System.getProperty("mooncake.trace",
            "/work/shared/traces/mooncake-conversation.jsonl"));
    private static final int CHUNK = 256;
    private static final int POOL_CHUNKS = 1600;
    private static final KvLayout LAYOUT = new KvLayout(1, 1, 8, KvDtype.BFLOAT16, 16, 4096, KvFormat.FLASH_ATTN);

    @Test
    void adaptive_sameHitsAsTheSimulator_andLeavesLruOnThisTraffic() {
        PromptTrace prompts = TraceReader.read(MOONCAKE, 512).first(6000);
        ChunkedTrace trace = ChunkedTrace.of(prompts, CHUNK, true);
        TraceWorkload tokens = new TraceWorkload(prompts);
        long[] engine = engineHits(tokens, "ADAPTIVE");
        int[] engineHash = engineHashes(trace, tokens);
        long[] simulated = simulatedHits(trace, new SimulatedAdaptive(POOL_CHUNKS, trace.chunks(), k -> engineHash[k]));
        assertEquals(boxed(simulated), boxed(engine), "hit tokens per request");
        long lru = sum(engineHits(tokens, "LRU"));
        assertTrue(sum(engine) > lru * 1.1, "ADAPTIVE " + sum(engine) + " vs LRU " + lru + " hit tokens");
    }

    @Test
    void lru_sameHitsAsTheSimulator() {
        PromptTrace prompts = TraceReader.read(MOONCAKE, 512).first(1000);
        ChunkedTrace trace = ChunkedTrace.of(prompts, CHUNK, true);
        assertEquals(boxed(simulatedHits(trace, new SimulatedLru(POOL_CHUNKS, trace))),
                boxed(engineHits(new TraceWorkload(prompts), "LRU")));
    }

    /** Per simulated chunk, the hash the engine's policy takes from that chunk's key (its low 32 bits). */
    private static int[] engineHashes(ChunkedTrace trace, TraceWorkload tokens) {
        ChunkHasher hasher = new ChunkHasher("policy-test", 1, 0, CHUNK, LAYOUT);
        int[] hash = new int[trace.chunks()];
        for (int r = 0; r < trace.requests(); r++) {
            ChunkKey[] k = hasher.keys(KeyScope.NONE, tokens.prompt(r));
            assertEquals(trace.keys[r].length, k.length);
            for (int c = 0; c < k.length; c++) {
                hash[trace.keys[r][c]] = (int) k[c].lo();
            }
        }
        return hash;
    }

    private static long[] engineHits(TraceWorkload workload, String policy) {
        EngineConfig config = EngineConfig.builder().chunkSize(CHUNK).cachePolicy(policy)
                .maxLocalCpuSizeGb(POOL_CHUNKS * LAYOUT.chunkBytes(CHUNK) / (double) EngineConfig.GB).build();
        long[] hits = new long[workload.requests()];
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
                int[] tokens = workload.prompt(i);
                hits[i] = engine.lookup(tokens);
                engine.store(tokens, Arrays.copyOf(slots, tokens.length), 0);
            }
            engine.clear();
            assertEquals(0, engine.stats().pagesInUse());
            assertEquals(0, engine.stats().leases());
        }
        return hits;
    }

    private static long[] simulatedHits(ChunkedTrace trace, SimulatedPolicy policy) {
        long[] hits = new long[trace.requests()];
        for (int r = 0; r < hits.length; r++) {
            hits[r] = Simulation.request(trace, r, policy);
        }
        return hits;
    }

    private static List<Long> boxed(long[] a) {
        return Arrays.stream(a).boxed().toList();
    }

    private static long sum(long[] a) {
        return Arrays.stream(a).sum();
    }
}
