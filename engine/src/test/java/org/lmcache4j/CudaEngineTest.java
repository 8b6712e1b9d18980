package org.lmcache4j;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.lmcache4j.remote.RedisServer;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The engine on device caches, through its public API, on the CPU-run CUDA driver: every case in
 * both transfer modes and all three paged formats, with the serving engine's KV written and read
 * on a stream of its own (as torch does) and the driver's stream delay on, so that a copy the
 * engine did not order with that stream reads or leaves stale bytes. Each test ends with no lease,
 * pin or pool page in use and the driver's resources as they were.
 */
@Tag("cuda")
class CudaEngineTest {
    private static final int DELAY_US = 300;

    @TempDir
    Path dir;

    private CudaEmulator emulator;
    private CudaEmulator.Counts before;
    private final List<AutoCloseable> open = new ArrayList<>();

    static Stream<Arguments> cases() {
        List<Arguments> out = new ArrayList<>();
        for (String mode : List.of("kernel", "dma")) {
            for (KvFormat f : KvFormat.values()) {
                out.add(Arguments.of(mode, f));
            }
        }
        return out.stream();
    }

    static KvLayout layout(KvFormat f) {
        return new KvLayout(2, f == KvFormat.MLA ? 1 : 2, 16, KvDtype.BFLOAT16, 16, 128, f);
    }

    @BeforeEach
    void emulator() {
        emulator = CudaEmulator.require();
        before = emulator.counts();
        emulator.delayMicros(DELAY_US);
    }

    @AfterEach
    void nothingLeaked() throws Exception {
        emulator.delayMicros(0);
        for (int i = open.size() - 1; i >= 0; i--) {
            open.get(i).close();
        }
        emulator.assertNothingLeaked(before);
    }

    /** An engine, its device caches (filled with noise) and a serving stream, closed after the test. */
    private final class Setup {
        final DeviceCaches caches;
        final CacheEngine engine;
        final CudaStream stream;

        Setup(KvFormat format, String mode, EngineConfig base, int device) {
            KvLayout l = layout(format);
            caches = new DeviceCaches(l, device);
            open.add(caches);
            caches.fillRandom(format.ordinal() + 7);
            long s = caches.memory().createStream();
            open.add(() -> caches.memory().destroyStream(s));
            stream = new CudaStream(s);
            EngineConfig config = base.toBuilder().extraConfig(merged(base.extraConfig(), "cuda_transfer", mode)).build();
            engine = CacheEngine.builder().config(config).layout(l).model("cuda-test").slabTargetBytes(1 << 20).open();
            open.add(() -> assertClean(engine));
            engine.registerKvCaches(caches.addresses());
            assertEquals("cuda-" + mode, engine.transfer());
        }

        /** The serving engine's forward pass: fresh KV for tokens [from, to) on its stream; the rows written. */
        byte[] prefill(long[] slots, int from, int to, long seed) {
            return caches.writeRows(slots, from, to, seed, stream.handle());
        }

        /** What the serving engine's next work on its stream reads at these slots. */
        byte[] read(long[] slots, int from, int to) {
            caches.readBack(stream.handle());
            return caches.expected().rows(slots, from, to);
        }
    }

    private static Map<String, Object> merged(Map<String, Object> base, String key, Object value) {
        Map<String, Object> m = new java.util.LinkedHashMap<>(base);
        m.put(key, value);
        return m;
    }

    private static void assertClean(CacheEngine engine) {
        engine.awaitTransfers();
        EngineStats s = engine.stats();
        assertEquals(0, s.leases(), "leases left open");
        assertEquals(0, s.pins(), "pins left");
        engine.clear();
        assertEquals(0, engine.stats().pagesInUse(), "pages in use after clear");
        engine.close();
    }

    private static EngineConfig pool(KvLayout l, int chunks) {
        return EngineConfig.builder().maxLocalCpuSizeGb(chunks * l.chunkBytes(256) / (double) EngineConfig.GB).build();
    }

    private static long[] fresh(KvLayout l, int n, long seed) {
        return TestCaches.randomSlots(l, n, new Random(seed));
    }

    @ParameterizedTest
    @MethodSource("cases")
    void storeThenRetrieve_intoOtherBlocks_byteExact_partialChunkAndHoles(String mode, KvFormat format) {
        Setup s = new Setup(format, mode, pool(layout(format), 16), 0);
        KvLayout l = layout(format);
        int[] tokens = TestCaches.randomTokens(600, new Random(1));
        long[] from = fresh(l, 600, 2);
        byte[] written = s.prefill(from, 0, 600, 3);
        assertEquals(600, s.engine.store(KeyScope.NONE, tokens, from, 0, s.stream));
        s.engine.awaitTransfers();
        assertEquals(600, s.engine.lookup(tokens));

        long[] to = fresh(l, 600, 4);
        for (int t = 300; t < 600; t += 7) {
            to[t] = -1; // a padded request: those rows must be left alone
        }
        assertEquals(600, s.engine.retrieve(KeyScope.NONE, tokens, to, 0, s.stream));
        byte[] loaded = s.read(to, 0, 600);
        assertArrayEquals(maskHoles(written, to, l), maskHoles(loaded, to, l), "loaded KV differs from the stored KV");

        // A prompt whose second chunk has a hole stores its first chunk only.
        int[] other = TestCaches.randomTokens(512, new Random(5));
        long[] holed = fresh(l, 512, 6);
        holed[300] = -1;
        s.prefill(holed, 0, 512, 7);
        assertEquals(256, s.engine.store(KeyScope.NONE, other, holed, 0, s.stream));
    }

    @ParameterizedTest
    @MethodSource("cases")
    void layeredStore_thenWholeRetrieve_andWholeStore_thenLayeredRetrieve_byteExact(String mode, KvFormat format) {
        Setup s = new Setup(format, mode, pool(layout(format), 16), 0);
        KvLayout l = layout(format);
        int[] tokens = TestCaches.randomTokens(600, new Random(31));
        long[] from = fresh(l, 600, 32);
        byte[] written = s.prefill(from, 0, 600, 33);
        LayeredStore store = s.engine.storeLayers(KeyScope.NONE, tokens, from, 0, s.stream);
        assertEquals(600, store.tokens());
        for (int layer = 0; layer < l.numLayers(); layer++) {
            store.saveLayer(layer);
        }
        s.engine.awaitTransfers();
        assertTrue(store.complete(), "every layer landed: the store is complete");
        store.close();
        assertEquals(600, s.engine.lookup(tokens));
        long[] to = fresh(l, 600, 34);
        assertEquals(600, s.engine.retrieve(KeyScope.NONE, tokens, to, 0, s.stream));
        assertArrayEquals(written, s.read(to, 0, 600), "a layer-by-layer store, loaded whole");

        int[] other = TestCaches.randomTokens(600, new Random(35));
        long[] at = fresh(l, 600, 36);
        byte[] prefilled = s.prefill(at, 0, 600, 37);
        assertEquals(600, s.engine.store(KeyScope.NONE, other, at, 0, s.stream));
        s.engine.awaitTransfers(); // published once its copies landed
        long[] into = fresh(l, 600, 38);
        try (LayeredRetrieve load = s.engine.retrieveLayers(KeyScope.NONE, other, into, 0, s.stream)) {
            assertEquals(600, load.tokens());
            for (int layer = 0; layer < l.numLayers(); layer++) {
                load.loadLayer(layer);
            }
        }
        assertArrayEquals(prefilled, s.read(into, 0, 600), "a whole store, loaded layer by layer");
    }

    @ParameterizedTest
    @MethodSource("cases")
    void layeredRetrieve_copyingOneLayerAhead_eachLayerIsInOnceAwaited(String mode, KvFormat format) {
        Setup s = new Setup(format, mode, pool(layout(format), 16), 0);
        KvLayout l = layout(format);
        int[] tokens = TestCaches.randomTokens(600, new Random(41));
        long[] from = fresh(l, 600, 42);
        byte[] written = s.prefill(from, 0, 600, 43);
        assertEquals(600, s.engine.store(KeyScope.NONE, tokens, from, 0, s.stream));
        s.engine.awaitTransfers();
        long[] to = fresh(l, 600, 44);
        int layerBytes = written.length / l.numLayers();
        try (LayeredRetrieve load = s.engine.retrieveLayers(KeyScope.NONE, tokens, to, 0, s.stream)) {
            load.loadLayer(0);
            for (int layer = 0; layer < l.numLayers(); layer++) {
                if (layer + 1 < l.numLayers()) {
                    load.loadLayer(layer + 1); // queued beside this layer's attention
                }
                load.awaitLayer(layer);
                byte[] seen = s.read(to, 0, 600); // the stream's next work: this layer's attention
                assertArrayEquals(Arrays.copyOfRange(written, layer * layerBytes, (layer + 1) * layerBytes),
                        Arrays.copyOfRange(seen, layer * layerBytes, (layer + 1) * layerBytes),
                        "layer " + layer + " read before its copy landed");
            }
            IllegalArgumentException e = org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class,
                    () -> load.awaitLayer(l.numLayers()));
            assertTrue(e.getMessage().contains("has not been copied"), e.getMessage());
        }
    }

    /** Zeroes the rows of -1 slots (they are neither read nor written). */
    private static byte[] maskHoles(byte[] rows, long[] slots, KvLayout l) {
        byte[] out = rows.clone();
        int row = (int) l.rowBytes();
        int tokens = slots.length;
        for (int block = 0; block < l.numLayers() * l.format().planes(); block++) {
            for (int t = 0; t < tokens; t++) {
                if (slots[t] < 0) {
                    Arrays.fill(out, (block * tokens + t) * row, (block * tokens + t + 1) * row, (byte) 0);
                }
            }
        }
        return out;
    }

    @ParameterizedTest
    @MethodSource("modes")
    void eightThreads_storeAndRetrieve_onOneEngine_eachOnItsOwnStream(String mode) throws Exception {
        KvLayout l = new KvLayout(2, 2, 16, KvDtype.BFLOAT16, 16, 1024, KvFormat.FLASH_ATTN);
        DeviceCaches caches = new DeviceCaches(l, 0);
        open.add(caches);
        caches.fillRandom(51);
        EngineConfig config = pool(l, 64).toBuilder().extraConfig(Map.of("cuda_transfer", mode)).build();
        CacheEngine engine = CacheEngine.builder().config(config).layout(l).model("threads").slabTargetBytes(1 << 20).open();
        open.add(() -> assertClean(engine));
        engine.registerKvCaches(caches.addresses(), 0);
        int threads = 8;
        int n = 600;
        long[] all = fresh(l, threads * 2 * 640, 52); // 16 disjoint 40-block regions
        int[][] tokens = new int[threads][];
        long[][] from = new long[threads][];
        long[][] to = new long[threads][];
        byte[][] expected = new byte[threads][];
        long[] streams = new long[threads];
        for (int t = 0; t < threads; t++) {
            tokens[t] = TestCaches.randomTokens(n, new Random(60 + t));
            from[t] = Arrays.copyOfRange(all, 2 * t * 640, 2 * t * 640 + n);
            to[t] = Arrays.copyOfRange(all, (2 * t + 1) * 640, (2 * t + 1) * 640 + n);
            expected[t] = caches.rows(from[t], 0, n);
            long s = caches.memory().createStream();
            streams[t] = s;
            open.add(() -> caches.memory().destroyStream(s));
        }
        java.util.concurrent.ExecutorService pool = java.util.concurrent.Executors.newFixedThreadPool(threads);
        try {
            List<java.util.concurrent.Future<Integer>> done = new ArrayList<>();
            for (int t = 0; t < threads; t++) {
                int i = t;
                done.add(pool.submit(() -> {
                    CudaStream stream = new CudaStream(streams[i]);
                    int stored = engine.store(KeyScope.NONE, tokens[i], from[i], 0, stream);
                    engine.awaitTransfers();
                    return stored + engine.retrieve(KeyScope.NONE, tokens[i], to[i], 0, stream);
                }));
            }
            for (java.util.concurrent.Future<Integer> f : done) {
                assertEquals(2 * n, f.get());
            }
        } finally {
            pool.shutdown();
        }
        engine.awaitTransfers();
        for (int t = 0; t < threads; t++) {
            assertArrayEquals(expected[t], caches.rows(to[t], 0, n), "thread " + t + " loaded other KV");
        }
    }

    static Stream<String> modes() {
        return Stream.of("kernel", "dma");
    }

    @ParameterizedTest
    @MethodSource("cases")
    void skipLeading_andPrefixOnly_loadOnlyWhatIsAsked(String mode, KvFormat format) {
        Setup s = new Setup(format, mode, pool(layout(format), 16), 0);
        KvLayout l = layout(format);
        int[] tokens = TestCaches.randomTokens(768, new Random(11));
        long[] from = fresh(l, 768, 12);
        byte[] written = s.prefill(from, 0, 512, 13);
        assertEquals(512, s.engine.store(KeyScope.NONE, Arrays.copyOf(tokens, 512), Arrays.copyOf(from, 512), 0, s.stream));
        s.engine.awaitTransfers(); // served once published, when the gathers have landed
        long[] to = fresh(l, 768, 14);
        byte[] before = s.read(to, 0, 256);
        assertEquals(256, s.engine.retrieve(KeyScope.NONE, tokens, to, 256, s.stream), "only the second chunk is asked for");
        assertArrayEquals(before, s.read(to, 0, 256), "skip_leading rows were written");
        assertArrayEquals(slice(written, from, 256, 512, l), s.read(to, 256, 512));
    }

    /** Rows of tokens [a, b) out of {@code rows} laid out for tokens [0, n). */
    private static byte[] slice(byte[] rows, long[] slots, int a, int b, KvLayout l) {
        int row = (int) l.rowBytes();
        int n = rows.length / row / (l.numLayers() * l.format().planes());
        byte[] out = new byte[(b - a) * row * l.numLayers() * l.format().planes()];
        int pos = 0;
        for (int block = 0; block < l.numLayers() * l.format().planes(); block++) {
            System.arraycopy(rows, (block * n + a) * row, out, pos, (b - a) * row);
            pos += (b - a) * row;
        }
        return out;
    }

    @ParameterizedTest
    @MethodSource("cases")
    void eviction_andPins_onDeviceCaches(String mode, KvFormat format) {
        KvLayout l = layout(format);
        Setup s = new Setup(format, mode, pool(l, 3), 0);
        int[] a = TestCaches.randomTokens(512, new Random(21));
        long[] slotsA = fresh(l, 512, 22);
        byte[] keptA = s.prefill(slotsA, 0, 512, 23);
        s.engine.store(KeyScope.NONE, a, slotsA, 0, s.stream);
        s.engine.awaitTransfers();
        assertEquals(512, s.engine.lookupAndPin("a", KeyScope.NONE, a));
        int[] b = TestCaches.randomTokens(512, new Random(24));
        long[] slotsB = fresh(l, 512, 25);
        s.prefill(slotsB, 0, 512, 26);
        assertEquals(256, s.engine.store(KeyScope.NONE, b, slotsB, 0, s.stream), "one page left: the pinned chunks stay");
        s.engine.awaitTransfers();
        long[] to = fresh(l, 512, 27);
        assertEquals(512, s.engine.retrieve(KeyScope.NONE, a, to, 0, s.stream));
        assertArrayEquals(keptA, s.read(to, 0, 512));
        assertEquals(2, s.engine.unpin("a"));
        int[] c = TestCaches.randomTokens(768, new Random(28));
        long[] slotsC = fresh(l, 768, 29);
        s.prefill(slotsC, 0, 768, 30);
        assertEquals(768, s.engine.store(KeyScope.NONE, c, slotsC, 0, s.stream), "unpinned chunks are evicted now");
        s.engine.awaitTransfers();
        assertTrue(s.engine.stats().evictions() >= 2);
        assertEquals(0, s.engine.lookup(a));
    }

    @ParameterizedTest
    @MethodSource("cases")
    void diskTier_writeThrough_thenLoadedBackFromDisk(String mode, KvFormat format) {
        KvLayout l = layout(format);
        EngineConfig config = pool(l, 8).toBuilder().localDisk(dir.resolve(mode + format).toString())
                .maxLocalDiskSizeGb(0.05).extraConfig(Map.of("disk_write_through", true)).build();
        Setup s = new Setup(format, mode, config, 0);
        int[] tokens = TestCaches.randomTokens(700, new Random(31));
        long[] from = fresh(l, 700, 32);
        byte[] written = s.prefill(from, 0, 700, 33);
        s.engine.store(KeyScope.NONE, tokens, from, 0, s.stream);
        s.engine.awaitTransfers(); // the chunks are published, so write-through has them
        awaitDiskRecords(s.engine, 3);
        s.engine.clear();
        long[] to = fresh(l, 700, 34);
        assertEquals(700, s.engine.retrieve(KeyScope.NONE, tokens, to, 0, s.stream));
        assertArrayEquals(written, s.read(to, 0, 700), "KV read back from disk differs");
        assertEquals(700, s.engine.stats().diskHitTokens());
    }

    private static void awaitDiskRecords(CacheEngine engine, long records) {
        await(() -> engine.stats().disk().records(), records, "disk records");
    }

    /** Waits up to 10 s for {@code value} to reach {@code target} (background writes), else fails saying what it saw. */
    private static void await(java.util.function.LongSupplier value, long target, String what) {
        long deadline = System.nanoTime() + 10_000_000_000L;
        while (value.getAsLong() < target) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError(what + ": " + value.getAsLong() + ", not " + target);
            }
            Thread.onSpinWait();
        }
    }

    @ParameterizedTest
    @MethodSource("cases")
    void redisTier_secondEngineOnAnotherDeviceLoadsFromRedis(String mode, KvFormat format) throws Exception {
        KvLayout l = layout(format);
        RedisServer redis = RedisServer.shared();
        EngineConfig config = pool(l, 8).toBuilder().remoteUrl(redis.url())
                .instanceId("cuda-" + mode + format + System.nanoTime()).build();
        Setup first = new Setup(format, mode, config, 0);
        int[] tokens = TestCaches.randomTokens(520, new Random(41 + System.nanoTime()));
        long[] from = fresh(l, 520, 42);
        byte[] written = first.prefill(from, 0, 520, 43);
        first.engine.store(KeyScope.NONE, tokens, from, 0, first.stream);
        first.engine.awaitTransfers();
        awaitRemoteWrites(first.engine, 3);
        Setup second = new Setup(format, mode, config, 1); // cold, on the other device
        long[] to = fresh(l, 520, 44);
        assertEquals(520, second.engine.retrieve(KeyScope.NONE, tokens, to, 0, second.stream));
        assertArrayEquals(written, second.read(to, 0, 520), "KV shared through Redis differs");
        assertEquals(520, second.engine.stats().remoteHitTokens());
    }

    private static void awaitRemoteWrites(CacheEngine engine, long writes) {
        await(() -> engine.stats().remote().writes(), writes, "Redis writes");
    }
}
