package org.lmcache4j;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.FieldSource;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;

import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Every {@code cache_policy} under threads: lookups that pin, retrieves, unpins, stores and the
 * evictions they force, all at once on a pool of 16 chunks, while another thread re-registers the
 * paged caches and a checker asserts prefix contiguity. Every loaded byte is verified; no call
 * may hang, and the fixture checks at close that no lease or pin is left.
 */
class EvictionPolicyConcurrencyTest {
    private static final int THREADS = 4;
    private static final int ROUNDS = 60;
    static final List<String> POLICIES = EvictionPolicyContractTest.POLICIES;

    @ParameterizedTest
    @FieldSource("POLICIES")
    void lookupsPinsStoresAndRetrievesAtOnce_keepPrefixesExactBytesAndNoLeaks(String policy) throws Exception {
        KvLayout layout = new KvLayout(2, 2, 8, KvDtype.BFLOAT16, 16, 1024, KvFormat.BLOCKS_FIRST);
        EngineConfig config = EngineConfig.builder().cachePolicy(policy)
                .maxLocalCpuSizeGb(16 * layout.chunkBytes(256) / (double) EngineConfig.GB).build();
        try (EngineFixture f = new EngineFixture(config, layout)) {
            int[][] prefixes = new int[4][];
            Random seed = new Random(11);
            for (int i = 0; i < prefixes.length; i++) {
                prefixes[i] = TestCaches.randomTokens(256 + 256 * i, seed);
            }
            AtomicInteger loaded = new AtomicInteger();
            AtomicBoolean running = new AtomicBoolean(true);
            ExecutorService pool = Executors.newFixedThreadPool(THREADS + 2);
            List<Future<?>> workers = new ArrayList<>();
            for (int t = 0; t < THREADS; t++) {
                int thread = t;
                workers.add(pool.submit(() -> {
                    Random rnd = new Random(300 + thread);
                    int blocksPerThread = layout.numBlocks() / THREADS;
                    for (int r = 0; r < ROUNDS; r++) {
                        int[] prefix = prefixes[rnd.nextInt(prefixes.length)];
                        int[] prompt = Arrays.copyOf(prefix, prefix.length + 1 + rnd.nextInt(900));
                        for (int i = prefix.length; i < prompt.length; i++) {
                            prompt[i] = rnd.nextInt(32000);
                        }
                        long[] slots = CacheEngineConcurrencyTest.slotsInRange(layout, prompt.length,
                                thread * blocksPerThread, blocksPerThread, rnd);
                        String request = "t" + thread + "-r" + r;
                        int pinned = f.engine.lookupAndPin(request, KeyScope.NONE, prompt);
                        int hit = 0;
                        if (rnd.nextInt(4) > 0) {
                            hit = f.engine.retrieve(prompt, slots, 0);
                            for (int tok = 0; tok < hit; tok++) {
                                CacheEngineConcurrencyTest.verifyToken(f.caches, prompt, tok, slots[tok]);
                            }
                            loaded.addAndGet(hit);
                        }
                        f.engine.unpin(request);
                        assertTrue(pinned >= 0 && hit >= 0, policy);
                        for (int tok = hit; tok < prompt.length; tok++) {
                            CacheEngineConcurrencyTest.writeToken(f.caches, prompt, tok, slots[tok]);
                        }
                        f.engine.store(prompt, slots, 0);
                    }
                    return null;
                }));
            }
            Future<?> checker = pool.submit(() -> {
                while (running.get()) {
                    EvictionPolicyContractTest.assertPrefixesCached(f.engine);
                    Thread.yield();
                }
                return null;
            });
            Future<?> registrar = pool.submit(() -> {
                while (running.get()) {
                    f.engine.registerKvCaches(f.caches.addresses());
                    Thread.sleep(2);
                }
                return null;
            });
            try {
                for (Future<?> w : workers) {
                    w.get(120, TimeUnit.SECONDS);
                }
            } finally {
                running.set(false);
                checker.get(30, TimeUnit.SECONDS);
                registrar.get(30, TimeUnit.SECONDS);
                pool.shutdownNow();
            }
            EvictionPolicyContractTest.assertPrefixesCached(f.engine);
            assertTrue(loaded.get() > 0, policy + " should hit");
            if (!policy.equals("MRU")) { // MRU declines every new chunk once the pool is full: it never evicts
                assertTrue(f.engine.stats().evictions() > 0, policy + " should evict");
            }
        }
    }
}
