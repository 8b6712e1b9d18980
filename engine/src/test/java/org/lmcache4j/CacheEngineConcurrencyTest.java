package org.lmcache4j;

import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicInteger;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Several threads store and retrieve prompts that share prefixes, in a pool small enough to
 * evict, each verifying every loaded byte. The KV of a token is a function of the prompt prefix
 * it ends, so a wrong chunk, a torn copy or a reused page shows up as a mismatch.
 */
class CacheEngineConcurrencyTest {
    private static final int THREADS = 4;
    private static final int ROUNDS = 40;

    @Test
    void concurrentStoresAndRetrieves_loadOnlyExactBytes() throws Exception {
        KvLayout layout = new KvLayout(2, 2, 8, KvDtype.BFLOAT16, 16, 1024, KvFormat.BLOCKS_FIRST);
        EngineConfig config = EngineConfig.builder()
                .maxLocalCpuSizeGb(24 * layout.chunkBytes(256) / (double) EngineConfig.GB).build();
        try (EngineFixture f = new EngineFixture(config, layout)) {
            int[][] prefixes = new int[3][];
            Random seed = new Random(5);
            for (int i = 0; i < prefixes.length; i++) {
                prefixes[i] = TestCaches.randomTokens(512 + 256 * i, seed);
            }
            AtomicInteger loadedTokens = new AtomicInteger();
            ExecutorService pool = Executors.newFixedThreadPool(THREADS);
            List<Future<?>> futures = new ArrayList<>();
            for (int t = 0; t < THREADS; t++) {
                int thread = t;
                futures.add(pool.submit(() -> {
                    Random rnd = new Random(100 + thread);
                    // Each thread owns a quarter of the blocks, as a serving engine's requests do.
                    int blocksPerThread = layout.numBlocks() / THREADS;
                    for (int r = 0; r < ROUNDS; r++) {
                        int[] prefix = prefixes[rnd.nextInt(prefixes.length)];
                        int[] prompt = Arrays.copyOf(prefix, prefix.length + 1 + rnd.nextInt(700));
                        for (int i = prefix.length; i < prompt.length; i++) {
                            prompt[i] = rnd.nextInt(32000);
                        }
                        long[] slots = slotsInRange(layout, prompt.length, thread * blocksPerThread, blocksPerThread, rnd);
                        int hit = f.engine.retrieve(prompt, slots, 0);
                        for (int tok = 0; tok < hit; tok++) {
                            verifyToken(f.caches, prompt, tok, slots[tok]);
                        }
                        loadedTokens.addAndGet(hit);
                        for (int tok = hit; tok < prompt.length; tok++) {
                            writeToken(f.caches, prompt, tok, slots[tok]);
                        }
                        f.engine.store(prompt, slots, 0);
                    }
                    return null;
                }));
            }
            for (Future<?> fu : futures) {
                fu.get();
            }
            pool.shutdown();
            assertTrue(loadedTokens.get() > 0, "the workload should hit");
            assertTrue(f.engine.stats().evictions() > 0, "the workload should evict");
        }
    }

    static long[] slotsInRange(KvLayout layout, int n, int firstBlock, int blocks, Random rnd) {
        int needed = (n + layout.blockSize() - 1) / layout.blockSize();
        List<Integer> ids = new ArrayList<>();
        for (int b = 0; b < blocks; b++) {
            ids.add(firstBlock + b);
        }
        java.util.Collections.shuffle(ids, rnd);
        long[] slots = new long[n];
        for (int t = 0; t < n; t++) {
            slots[t] = (long) ids.get(t / layout.blockSize()) * layout.blockSize() + t % layout.blockSize();
        }
        assertTrue(needed <= blocks);
        return slots;
    }

    /** The rows a "model" computes for token {@code t}: a function of tokens[0..t] and t. */
    private static byte[] expectedRows(TestCaches c, int[] prompt, int t) {
        long h = 1469598103934665603L;
        for (int i = 0; i <= t; i++) {
            h = (h ^ prompt[i]) * 1099511628211L;
        }
        byte[] rows = new byte[(int) (c.layout.rowBytes() * c.layout.numLayers() * c.layout.format().planes())];
        Random r = new Random(h);
        r.nextBytes(rows);
        return rows;
    }

    static void writeToken(TestCaches c, int[] prompt, int t, long slot) {
        byte[] rows = expectedRows(c, prompt, t);
        int row = (int) c.layout.rowBytes();
        int pos = 0;
        for (int l = 0; l < c.layout.numLayers(); l++) {
            for (int p = 0; p < c.layout.format().planes(); p++) {
                java.lang.foreign.MemorySegment.copy(rows, pos, c.layers.get(l),
                        java.lang.foreign.ValueLayout.JAVA_BYTE, c.view.offset(p, slot), row);
                pos += row;
            }
        }
    }

    static void verifyToken(TestCaches c, int[] prompt, int t, long slot) {
        byte[] expected = expectedRows(c, prompt, t);
        byte[] actual = new byte[expected.length];
        int row = (int) c.layout.rowBytes();
        int pos = 0;
        for (int l = 0; l < c.layout.numLayers(); l++) {
            for (int p = 0; p < c.layout.format().planes(); p++) {
                java.lang.foreign.MemorySegment.copy(c.layers.get(l), java.lang.foreign.ValueLayout.JAVA_BYTE,
                        c.view.offset(p, slot), actual, pos, row);
                pos += row;
            }
        }
        assertArrayEquals(expected, actual, "token " + t);
    }

    @Test
    void concurrentStoresOfTheSamePrompt_storeEachChunkOnce() throws Exception {
        try (EngineFixture f = new EngineFixture(EngineFixture.poolOfChunks(16))) {
            Random rnd = new Random(9);
            int[] prompt = TestCaches.randomTokens(1024, rnd);
            long[] slots = TestCaches.randomSlots(f.caches.layout, 1024, rnd);
            ExecutorService pool = Executors.newFixedThreadPool(THREADS);
            List<Future<Integer>> stored = new ArrayList<>();
            for (int t = 0; t < THREADS; t++) {
                stored.add(pool.submit(() -> f.engine.store(prompt, slots, 0)));
            }
            int total = 0;
            for (Future<Integer> s : stored) {
                total += s.get();
            }
            pool.shutdown();
            assertEquals(1024, total);
            assertEquals(4, f.engine.stats().chunks());
            assertEquals(1024, f.engine.lookup(prompt));
        }
    }
}
