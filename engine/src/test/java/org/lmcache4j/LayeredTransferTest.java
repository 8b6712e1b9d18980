package org.lmcache4j;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.util.Arrays;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Layer-by-layer store and retrieve ({@link LayeredStore}, {@link LayeredRetrieve}) on host caches,
 * in all three paged formats: byte for byte what the whole-chunk path stores and loads, a chunk
 * served only once all its layers are in, and every way of giving one up part way leaving no
 * lease, pin or page behind (the fixture checks at the end of each test).
 */
class LayeredTransferTest {
    private static final int TOKENS = 600; // two full chunks and a partial one

    static KvLayout layout(KvFormat format) {
        return new KvLayout(4, format == KvFormat.MLA ? 1 : 2, 8, KvDtype.BFLOAT16, 16, 512, format);
    }

    private static EngineFixture fixture(KvFormat format) {
        KvLayout l = layout(format);
        return new EngineFixture(EngineConfig.builder()
                .maxLocalCpuSizeGb(16 * l.chunkBytes(256) / (double) EngineConfig.GB).build(), l);
    }

    /** The rows of one layer out of {@link TestCaches#rows}' layer-major bytes. */
    private static byte[] layerOf(byte[] rows, KvLayout l, int layer) {
        int bytes = rows.length / l.numLayers();
        return Arrays.copyOfRange(rows, layer * bytes, (layer + 1) * bytes);
    }

    @ParameterizedTest
    @EnumSource(KvFormat.class)
    void layeredStore_publishedAfterItsLastLayer_thenWholeRetrieveIsByteExact(KvFormat format) {
        try (EngineFixture f = fixture(format)) {
            KvLayout l = f.caches.layout;
            int[] tokens = TestCaches.randomTokens(TOKENS, new Random(1));
            long[] from = TestCaches.randomSlots(l, TOKENS, new Random(2));
            byte[] stored = f.caches.rows(from, 0, TOKENS);
            try (LayeredStore store = f.engine.storeLayers(KeyScope.NONE, tokens, from, 0, CudaStream.DEFAULT)) {
                assertEquals(TOKENS, store.tokens());
                for (int layer = 0; layer < l.numLayers(); layer++) {
                    assertEquals(0, f.engine.lookup(tokens), "served before layer " + layer + " was in");
                    store.saveLayer(layer);
                }
                assertTrue(store.complete());
            }
            assertEquals(TOKENS, f.engine.lookup(tokens));
            assertEquals(TOKENS, f.engine.stats().storedTokens());

            long[] to = TestCaches.randomSlots(l, TOKENS, new Random(3));
            f.caches.zero();
            assertEquals(TOKENS, f.engine.retrieve(tokens, to, 0));
            assertArrayEquals(stored, f.caches.rows(to, 0, TOKENS), "loaded KV differs from the stored KV");
        }
    }

    @ParameterizedTest
    @EnumSource(KvFormat.class)
    void wholeStore_thenLayeredRetrieve_writesLayerByLayer_byteExact(KvFormat format) {
        try (EngineFixture f = fixture(format)) {
            KvLayout l = f.caches.layout;
            int[] tokens = TestCaches.randomTokens(TOKENS, new Random(4));
            long[] from = TestCaches.randomSlots(l, TOKENS, new Random(5));
            byte[] stored = f.caches.rows(from, 256, TOKENS);
            assertEquals(TOKENS, f.engine.store(tokens, from, 0));

            long[] to = TestCaches.randomSlots(l, TOKENS, new Random(6));
            byte[] before = f.caches.rows(to, 256, TOKENS);
            try (LayeredRetrieve load = f.engine.retrieveLayers(KeyScope.NONE, tokens, to, 256, CudaStream.DEFAULT)) {
                assertEquals(TOKENS - 256, load.tokens());
                for (int layer = 0; layer < l.numLayers(); layer++) {
                    load.loadLayer(layer);
                    byte[] now = f.caches.rows(to, 256, TOKENS);
                    for (int other = 0; other < l.numLayers(); other++) {
                        assertArrayEquals(layerOf(other <= layer ? stored : before, l, other), layerOf(now, l, other),
                                "layer " + other + " after loading layers 0.." + layer);
                    }
                }
                assertTrue(load.complete());
            }
            assertEquals(TOKENS - 256, f.engine.stats().retrievedTokens());
        }
    }

    @ParameterizedTest
    @EnumSource(KvFormat.class)
    void layeredStore_thenLayeredRetrieve_matchesTheWholeChunkPath(KvFormat format) {
        try (EngineFixture f = fixture(format)) {
            KvLayout l = f.caches.layout;
            int[] tokens = TestCaches.randomTokens(TOKENS, new Random(7));
            long[] from = TestCaches.randomSlots(l, TOKENS, new Random(8));
            byte[] stored = f.caches.rows(from, 0, TOKENS);
            try (LayeredStore store = f.engine.storeLayers(KeyScope.NONE, tokens, from, 0, CudaStream.DEFAULT)) {
                for (int layer = 0; layer < l.numLayers(); layer++) {
                    store.saveLayer(layer);
                }
            }
            long[] whole = TestCaches.randomSlots(l, TOKENS, new Random(9));
            assertEquals(TOKENS, f.engine.retrieve(tokens, whole, 0));
            assertArrayEquals(stored, f.caches.rows(whole, 0, TOKENS), "the whole-chunk retrieve");
            long[] layered = TestCaches.randomSlots(l, TOKENS, new Random(10));
            try (LayeredRetrieve load = f.engine.retrieveLayers(KeyScope.NONE, tokens, layered, 0, CudaStream.DEFAULT)) {
                for (int layer = 0; layer < l.numLayers(); layer++) {
                    load.loadLayer(layer);
                }
            }
            assertArrayEquals(stored, f.caches.rows(layered, 0, TOKENS), "the layer-by-layer retrieve");
        }
    }

    @ParameterizedTest
    @EnumSource(KvFormat.class)
    void abandonedStore_publishesNothing_andFreesItsPages(KvFormat format) {
        try (EngineFixture f = fixture(format)) {
            int[] tokens = TestCaches.randomTokens(TOKENS, new Random(11));
            long[] slots = TestCaches.randomSlots(f.caches.layout, TOKENS, new Random(12));
            LayeredStore store = f.engine.storeLayers(KeyScope.NONE, tokens, slots, 0, CudaStream.DEFAULT);
            store.saveLayer(0);
            assertTrue(f.engine.stats().leases() > 0);
            store.close();
            assertTrue(store.ended());
            assertFalse(store.complete());
            assertEquals(0, f.engine.lookup(tokens));
            assertEquals(0, f.engine.stats().leases());
            assertEquals(0, f.engine.stats().chunks(), "an abandoned store left chunks indexed");
            IllegalStateException e = assertThrows(IllegalStateException.class, () -> store.saveLayer(1));
            assertTrue(e.getMessage().contains("closed before its last layer"), e.getMessage());
            assertEquals(TOKENS, f.engine.store(tokens, slots, 0), "the prompt is stored anew, whole");
        }
    }

    @ParameterizedTest
    @EnumSource(KvFormat.class)
    void layerOutOfOrder_isRefused_andChangesNothing(KvFormat format) {
        try (EngineFixture f = fixture(format)) {
            int[] tokens = TestCaches.randomTokens(TOKENS, new Random(13));
            long[] slots = TestCaches.randomSlots(f.caches.layout, TOKENS, new Random(14));
            try (LayeredStore store = f.engine.storeLayers(KeyScope.NONE, tokens, slots, 0, CudaStream.DEFAULT)) {
                IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> store.saveLayer(1));
                assertTrue(e.getMessage().contains("layer 0 is next"), e.getMessage());
                for (int layer = 0; layer < store.layers(); layer++) {
                    store.saveLayer(layer);
                }
                assertThrows(IllegalStateException.class, () -> store.saveLayer(0));
            }
            assertEquals(TOKENS, f.engine.lookup(tokens));
        }
    }

    @ParameterizedTest
    @EnumSource(KvFormat.class)
    void badInput_isRefused_andNothingIsPlanned(KvFormat format) {
        try (EngineFixture f = fixture(format)) {
            int[] tokens = TestCaches.randomTokens(TOKENS, new Random(15));
            long[] shortSlots = new long[TOKENS - 1];
            assertThrows(IllegalArgumentException.class,
                    () -> f.engine.storeLayers(KeyScope.NONE, tokens, shortSlots, 0, CudaStream.DEFAULT));
            assertThrows(IllegalArgumentException.class,
                    () -> f.engine.retrieveLayers(KeyScope.NONE, tokens, shortSlots, 0, CudaStream.DEFAULT));
            long[] slots = TestCaches.randomSlots(f.caches.layout, TOKENS, new Random(16));
            assertThrows(IllegalArgumentException.class,
                    () -> f.engine.storeLayers(KeyScope.NONE, tokens, slots, 100, CudaStream.DEFAULT));
            assertThrows(IllegalArgumentException.class,
                    () -> f.engine.storeLayers(KeyScope.NONE, tokens, slots, 0, new CudaStream(7)));
            assertEquals(0, f.engine.stats().chunks());
            assertEquals(0, f.engine.stats().leases());
        }
    }

    @ParameterizedTest
    @EnumSource(KvFormat.class)
    void callerChangingItsArrays_afterTheStart_changesNothing(KvFormat format) {
        try (EngineFixture f = fixture(format)) {
            KvLayout l = f.caches.layout;
            int[] tokens = TestCaches.randomTokens(TOKENS, new Random(17));
            long[] slots = TestCaches.randomSlots(l, TOKENS, new Random(18));
            byte[] stored = f.caches.rows(slots, 0, TOKENS);
            long[] kept = slots.clone();
            try (LayeredStore store = f.engine.storeLayers(KeyScope.NONE, tokens, slots, 0, CudaStream.DEFAULT)) {
                Arrays.fill(slots, -1); // a serving engine reusing its buffer for the next step
                for (int layer = 0; layer < l.numLayers(); layer++) {
                    store.saveLayer(layer);
                }
            }
            long[] to = TestCaches.randomSlots(l, TOKENS, new Random(19));
            assertEquals(TOKENS, f.engine.retrieve(tokens, to, 0));
            assertArrayEquals(stored, f.caches.rows(to, 0, TOKENS));
            assertEquals(kept.length, slots.length);
        }
    }

    @ParameterizedTest
    @EnumSource(KvFormat.class)
    void reRegistration_whileALayeredRetrieveRuns_givesItUp_withoutACrash(KvFormat format) {
        try (EngineFixture f = fixture(format); TestCaches replacement = new TestCaches(f.caches.layout)) {
            KvLayout l = f.caches.layout;
            int[] tokens = TestCaches.randomTokens(TOKENS, new Random(20));
            long[] slots = TestCaches.randomSlots(l, TOKENS, new Random(21));
            byte[] stored = f.caches.rows(slots, 0, TOKENS);
            f.engine.store(tokens, slots, 0);
            LayeredRetrieve load = f.engine.retrieveLayers(KeyScope.NONE, tokens, slots, 0, CudaStream.DEFAULT);
            LayeredStore store = f.engine.storeLayers(KeyScope.NONE, TestCaches.randomTokens(TOKENS, new Random(22)),
                    slots, 0, CudaStream.DEFAULT);
            load.loadLayer(0);
            store.saveLayer(0);
            f.engine.registerKvCaches(replacement.addresses());
            assertTrue(load.ended() && store.ended(), "re-registration gives up what copies to the old caches");
            IllegalStateException e = assertThrows(IllegalStateException.class, () -> load.loadLayer(1));
            assertTrue(e.getMessage().contains("registered anew"), e.getMessage());
            assertThrows(IllegalStateException.class, () -> store.saveLayer(1));
            load.close();
            store.close();
            assertEquals(0, f.engine.stats().leases());
            assertEquals(TOKENS, f.engine.lookup(tokens), "only the given-up store's chunks are gone");
            assertEquals(3, f.engine.stats().chunks(), "the given-up store published nothing (3 chunks: the whole store's)");

            replacement.zero();
            assertEquals(TOKENS, f.engine.retrieve(tokens, slots, 0));
            assertArrayEquals(stored, replacement.rows(slots, 0, TOKENS), "the new caches are served as usual");
            f.engine.registerKvCaches(f.caches.addresses());
        }
    }

    @ParameterizedTest
    @EnumSource(KvFormat.class)
    void engineClosed_midStoreAndMidRetrieve_leavesNothingLeasedOrMapped(KvFormat format) {
        KvLayout l = layout(format);
        try (TestCaches caches = new TestCaches(l)) {
            caches.fillRandom(23);
            CacheEngine engine = CacheEngine.builder().layout(l).model("layered-close").slabTargetBytes(256 * 1024)
                    .config(EngineConfig.builder().maxLocalCpuSizeGb(8 * l.chunkBytes(256) / (double) EngineConfig.GB)
                            .build()).open();
            engine.registerKvCaches(caches.addresses());
            int[] tokens = TestCaches.randomTokens(TOKENS, new Random(24));
            long[] slots = TestCaches.randomSlots(l, TOKENS, new Random(25));
            engine.store(tokens, slots, 0);
            LayeredRetrieve load = engine.retrieveLayers(KeyScope.NONE, tokens, slots, 0, CudaStream.DEFAULT);
            LayeredStore store = engine.storeLayers(KeyScope.NONE, TestCaches.randomTokens(TOKENS, new Random(26)),
                    slots, 0, CudaStream.DEFAULT);
            load.loadLayer(0);
            store.saveLayer(0);
            assertTrue(engine.stats().leases() > 0);
            engine.close();
            assertTrue(load.ended() && !load.complete());
            assertTrue(store.ended() && !store.complete());
            assertEquals(0, engine.stats().leases(), "leases left at close: the pool stayed mapped");
            IllegalStateException e = assertThrows(IllegalStateException.class, () -> store.saveLayer(1));
            assertTrue(e.getMessage().contains("closed"), e.getMessage());
            load.close();
            store.close();
        }
    }

    @ParameterizedTest
    @EnumSource(KvFormat.class)
    void layeredRetrieve_ofAPrefixOnDisk_readsAndVerifiesItFirst_byteExact(KvFormat format,
                                                                          @org.junit.jupiter.api.io.TempDir
                                                                          java.nio.file.Path dir) {
        KvLayout l = layout(format);
        EngineConfig config = EngineConfig.builder().maxLocalCpuSizeGb(16 * l.chunkBytes(256) / (double) EngineConfig.GB)
                .localDisk(dir.toString()).maxLocalDiskSizeGb(16 * (l.chunkBytes(256) + 8192) / (double) EngineConfig.GB)
                .extraConfig(java.util.Map.of("disk_write_through", true)).build();
        try (EngineFixture f = new EngineFixture(config, l)) {
            int[] tokens = TestCaches.randomTokens(TOKENS, new Random(30));
            long[] slots = TestCaches.randomSlots(l, TOKENS, new Random(31));
            byte[] stored = f.caches.rows(slots, 0, TOKENS);
            f.engine.store(tokens, slots, 0);
            DiskTierEngineTest.await("three records", () -> f.engine.stats().disk().records() == 3);
            f.engine.clear(); // only the disk holds the prompt now
            f.caches.zero();
            try (LayeredRetrieve load = f.engine.retrieveLayers(KeyScope.NONE, tokens, slots, 0, CudaStream.DEFAULT)) {
                assertEquals(TOKENS, load.tokens());
                for (int layer = 0; layer < l.numLayers(); layer++) {
                    load.loadLayer(layer);
                }
            }
            assertArrayEquals(stored, f.caches.rows(slots, 0, TOKENS));
            assertEquals(TOKENS, f.engine.stats().diskHitTokens(), "counted as disk hits, as a retrieve's");
        }
    }

    @ParameterizedTest
    @EnumSource(KvFormat.class)
    void eightThreads_layeredStoresAndRetrieves_onOneEngine_exactAndLeakFree(KvFormat format) throws Exception {
        try (EngineFixture f = fixture(format)) {
            KvLayout l = f.caches.layout;
            int threads = 8;
            // Threads id and id + 4 store the same prompt: the same tokens must have the same KV in both
            // their blocks (the cache serves whichever stored first to both).
            for (int id = 4; id < threads; id++) {
                for (int i = 0; i < 300; i++) {
                    long own = (long) id * 32 * l.blockSize() + i;
                    long partner = (long) (id - 4) * 32 * l.blockSize() + i;
                    for (int layer = 0; layer < l.numLayers(); layer++) {
                        for (int plane = 0; plane < l.format().planes(); plane++) {
                            java.lang.foreign.MemorySegment c = f.caches.layers.get(layer);
                            java.lang.foreign.MemorySegment.copy(c, f.caches.view.offset(plane, partner), c,
                                    f.caches.view.offset(plane, own), l.rowBytes());
                        }
                    }
                }
            }
            java.util.concurrent.ExecutorService pool = java.util.concurrent.Executors.newFixedThreadPool(threads);
            try {
                java.util.List<java.util.concurrent.Future<Boolean>> done = new java.util.ArrayList<>();
                for (int t = 0; t < threads; t++) {
                    int id = t;
                    done.add(pool.submit(() -> {
                        // Each thread its own blocks: slots id*32 blocks onwards, 300 tokens.
                        long[] slots = new long[300];
                        for (int i = 0; i < slots.length; i++) {
                            slots[i] = (long) id * 32 * l.blockSize() + i;
                        }
                        int[] tokens = TestCaches.randomTokens(300, new Random(100 + id % 4)); // pairs share prompts
                        byte[] stored = f.caches.rows(slots, 0, 300);
                        for (int round = 0; round < 5; round++) {
                            try (LayeredStore store = f.engine.storeLayers(KeyScope.NONE, tokens, slots, 0,
                                    CudaStream.DEFAULT)) {
                                for (int layer = 0; layer < l.numLayers(); layer++) {
                                    store.saveLayer(layer);
                                }
                            }
                            try (LayeredRetrieve load = f.engine.retrieveLayers(KeyScope.NONE, tokens, slots, 0,
                                    CudaStream.DEFAULT)) {
                                for (int layer = 0; layer < l.numLayers(); layer++) {
                                    load.loadLayer(layer);
                                }
                            }
                            if (!Arrays.equals(stored, f.caches.rows(slots, 0, 300))) {
                                return false;
                            }
                        }
                        return true;
                    }));
                }
                for (var d : done) {
                    assertTrue(d.get(60, java.util.concurrent.TimeUnit.SECONDS), "a thread loaded other bytes");
                }
            } finally {
                pool.shutdownNow();
            }
        }
    }
}
