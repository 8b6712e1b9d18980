package org.lmcache4j.bench.model;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.lmcache4j.CacheEngine;
import org.lmcache4j.EngineConfig;
import org.lmcache4j.EngineStats;
import org.lmcache4j.KvLayout;

import java.nio.file.Path;
import java.util.Arrays;
import java.util.Map;
import java.util.Random;
import java.util.function.BooleanSupplier;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Next-token logits of the reference model with KV retrieved through the engine equal those of a
 * full prefill bit for bit (compared as raw float bits, no tolerance): from the CPU tier and from
 * the disk tier, for a prefix ending mid-chunk, a hit of the whole prompt and a miss after eviction.
 */
class ReferenceModelExactnessTest {
    private static final int CHUNK = 16;
    private static final ModelShape SHAPE = ModelShape.tiny();
    private static final KvLayout LAYOUT = SHAPE.kvLayout(16, 64);
    private static final ReferenceModel MODEL = new ReferenceModel(SHAPE);

    private final Random rnd = new Random(5);
    private final PagedKvCache cache = new PagedKvCache(LAYOUT, 3);
    private final ModelServer server = new ModelServer(MODEL, cache);
    private CacheEngine engine;

    @TempDir
    Path dir;

    private CacheEngine open(int poolChunks, Map<String, Object> extra, boolean disk) {
        EngineConfig.Builder b = EngineConfig.builder().chunkSize(CHUNK)
                .maxLocalCpuSizeGb(poolChunks * LAYOUT.chunkBytes(CHUNK) / (double) EngineConfig.GB)
                .extraConfig(extra);
        if (disk) {
            b.localDisk(dir.toString()).maxLocalDiskSizeGb(64 * (LAYOUT.chunkBytes(CHUNK) + 8192) / (double) EngineConfig.GB);
        }
        engine = CacheEngine.builder().config(b.build()).layout(LAYOUT).model("reference-tiny")
                .slabTargetBytes(poolChunks * LAYOUT.chunkBytes(CHUNK)).open();
        engine.registerKvCaches(cache.layers());
        return engine;
    }

    @AfterEach
    void nothingLeaks() {
        try {
            if (engine != null) {
                // The spiller may still be writing the last store's chunks (each holds a lease until
                // its record is on disk): wait for it, then nothing may be left.
                await("spills in flight", () -> engine.stats().leases() == 0);
                EngineStats before = engine.stats();
                assertEquals(0, before.leases(), "leases after the test");
                assertEquals(0, before.pins(), "pins after the test");
                engine.close();
                assertEquals(0, engine.stats().leases(), "leases after close");
                assertEquals(0, engine.stats().pins(), "pins after close");
            }
        } finally {
            cache.close();
        }
    }

    private int[] tokens(int n) {
        int[] t = new int[n];
        for (int i = 0; i < n; i++) {
            t[i] = rnd.nextInt(SHAPE.vocab());
        }
        return t;
    }

    private static int[] concat(int[] a, int[] b) {
        int[] c = Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, c, a.length, b.length);
        return c;
    }

    /** Serves {@code prompt} through the engine; asserts the logits equal a full prefill's, bit for bit. */
    private ModelServer.Served assertExact(int[] prompt) {
        ModelServer.Served full = server.serve(prompt, null);
        ModelServer.Served cached = server.serve(prompt, engine);
        assertArrayEquals(full.logitBits(), cached.logitBits(), "logits with " + cached.loadedTokens()
                + " tokens from the engine differ from a full prefill");
        return cached;
    }

    @Test
    void prefixEndingMidChunk_loadsWholeChunks_logitsExact() {
        open(64, Map.of(), false);
        int[] first = tokens(50);                      // chunks of 16, 16, 16 and 2
        assertEquals(0, assertExact(first).loadedTokens());
        ModelServer.Served second = assertExact(concat(first, tokens(30)));
        assertEquals(48, second.loadedTokens(), "the three whole chunks the prompts share");
    }

    @Test
    void wholePromptHit_loadsAllButTheLastToken_logitsExact() {
        open(64, Map.of(), false);
        int[] prompt = tokens(50);
        server.serve(prompt, engine);
        assertEquals(49, assertExact(prompt).loadedTokens(), "vLLM recomputes the last token");
        int[] aligned = tokens(64);
        server.serve(aligned, engine);
        assertEquals(63, assertExact(aligned).loadedTokens());
    }

    @Test
    void missAfterEviction_recomputes_logitsExact() {
        open(4, Map.of(), false);
        int[] prompt = tokens(64);
        server.serve(prompt, engine);
        assertEquals(64, engine.lookup(prompt));
        server.serve(tokens(64), engine);                // four new chunks evict the first prompt's
        assertTrue(engine.stats().evictions() >= 4, engine.stats().toString());
        assertEquals(0, assertExact(prompt).loadedTokens());
    }

    @Test
    void fromDiskTier_afterThePoolIsCleared_logitsExact() {
        open(64, Map.of("disk_write_through", true, "disk_io_threads", 1), true);
        int[] doc = tokens(64);
        server.serve(doc, engine);
        await("four records on disk", () -> engine.stats().disk().records() == 4);
        engine.clear();
        assertEquals(0, engine.stats().chunks());
        ModelServer.Served question = assertExact(concat(doc, tokens(9)));
        assertEquals(64, question.loadedTokens());
        assertTrue(engine.stats().diskHitTokens() >= 64, engine.stats().toString());
        engine.clear();
        assertEquals(63, assertExact(doc).loadedTokens(), "a whole-prompt hit from disk");
    }

    @Test
    void fromDiskTier_afterSpilling_logitsExact() {
        // Any chunk in the pool is over the high watermark: the spiller writes each and drops it.
        open(8, Map.of("disk_io_threads", 1, "disk_spill_high_watermark", 0.2, "disk_spill_low_watermark", 0.01),
                true);
        int[] doc = tokens(64);
        server.serve(doc, engine);
        await("spilled to disk", () -> engine.stats().chunks() == 0 && engine.stats().disk().records() == 4);
        ModelServer.Served question = assertExact(concat(doc, tokens(20)));
        assertEquals(64, question.loadedTokens());
        assertEquals(64, engine.stats().diskHitTokens(), engine.stats().toString());
    }

    @Test
    void aWrongPrefixInTheCache_changesTheLogits_soTheComparisonIsNotVacuous() {
        int[] prompt = tokens(40);
        ModelServer.Served full = server.serve(prompt, null);
        long[] slots = cache.allocate(prompt.length);
        try {
            MODEL.prefill(tokens(40), slots, 0, cache);  // another prompt's KV in the same slots
            float[] wrong = MODEL.prefill(prompt, slots, 32, cache);
            assertFalse(Arrays.equals(full.logits(), wrong));
        } finally {
            cache.free(slots);
        }
        for (float f : full.logits()) {
            assertTrue(Float.isFinite(f));
        }
    }

    static void await(String what, BooleanSupplier condition) {
        long deadline = System.nanoTime() + 20_000_000_000L;
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("timed out waiting for " + what);
            }
            try {
                Thread.sleep(5);
            } catch (InterruptedException e) {
                throw new AssertionError(e);
            }
        }
    }
}
