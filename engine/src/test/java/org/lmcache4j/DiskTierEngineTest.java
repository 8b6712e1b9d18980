package org.lmcache4j;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.function.BooleanSupplier;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The disk tier through the engine: spill, promotion, restart, capacity and every fault. */
class DiskTierEngineTest {
    private static final long CHUNK = EngineFixture.LAYOUT.chunkBytes(256);
    private final Random rnd = new Random(11);
    private EngineFixture f;

    @TempDir
    Path dir;

    @AfterEach
    void noLeaks() {
        if (f != null) {
            f.close();
        }
    }

    static EngineConfig config(Path dir, int poolChunks, int diskChunks, Map<String, Object> extra) {
        // Records take a 4 KiB header and round up to 4 KiB: give the cap that room.
        double diskGb = diskChunks * (CHUNK + 8192) / (double) EngineConfig.GB;
        Map<String, Object> all = new HashMap<>(Map.of("disk_io_threads", 2));
        all.putAll(extra);
        return EngineFixture.poolOfChunks(poolChunks).toBuilder().localDisk(dir.toString())
                .maxLocalDiskSizeGb(diskGb).extraConfig(all).build();
    }

    private EngineFixture open(EngineConfig config) {
        f = new EngineFixture(config);
        return f;
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

    private static List<Path> records(Path dir) throws IOException {
        try (Stream<Path> s = Files.walk(dir, 2)) {
            return s.filter(p -> p.toString().endsWith(".lmc")).toList();
        }
    }

    @Test
    void fullPool_spillsToDisk_andRetrieveLoadsFromDiskByteExact() {
        open(config(dir, 20, 64, Map.of()));
        int[][] prompts = new int[12][];
        long[][] slots = new long[12][];
        byte[][] rows = new byte[12][];
        for (int i = 0; i < prompts.length; i++) {
            prompts[i] = TestCaches.randomTokens(768, rnd);
            slots[i] = TestCaches.randomSlots(f.caches.layout, 768, rnd);
            f.engine.store(prompts[i], slots[i], 0);
            rows[i] = f.caches.rows(slots[i], 0, 768);
            // The spiller keeps usage at or under the low watermark (16 of 20 pages), so the next
            // prompt's 3 chunks fit without evicting anything that is not on disk yet.
            await("spilling to the low watermark", () -> f.engine.stats().pagesInUse() <= 17);
        }
        EngineStats s = f.engine.stats();
        assertTrue(s.spilledChunks() > 0, "chunks spilled");
        assertEquals(768, f.engine.lookup(prompts[0]), "the oldest prompt is found on disk");
        f.caches.zero();
        assertEquals(768, f.engine.retrieve(prompts[0], slots[0], 0));
        assertArrayEquals(rows[0], f.caches.rows(slots[0], 0, 768));
        assertTrue(f.engine.stats().diskHitTokens() > 0);
        assertTrue(f.engine.stats().disk().reads() > 0);
        assertEquals(0, f.engine.stats().disk().readFailures());
    }

    @Test
    void writeThrough_writesEveryChunk_andAClearedPoolReloadsThem() throws IOException {
        open(config(dir, 16, 64, Map.of("disk_write_through", true)));
        int[] tokens = TestCaches.randomTokens(700, rnd);
        long[] slots = TestCaches.randomSlots(f.caches.layout, 700, rnd);
        f.engine.store(tokens, slots, 0);
        byte[] rows = f.caches.rows(slots, 0, 700);
        await("three records", () -> f.engine.stats().disk().records() == 3);
        assertEquals(3, records(dir).size());
        f.engine.clear();
        f.caches.zero();
        assertEquals(700, f.engine.lookup(tokens));
        assertEquals(700, f.engine.retrieve(tokens, slots, 0));
        assertArrayEquals(rows, f.caches.rows(slots, 0, 700));
        assertEquals(3, f.engine.stats().chunks(), "promoted into the CPU tier");
        assertEquals(0, f.engine.store(tokens, slots, 0), "on disk and in memory: nothing to store");
    }

    @Test
    @org.lmcache4j.ProvokesFaults("another model's records")
    void restart_findsRecords_andAnotherModelIgnoresThem() {
        EngineConfig cfg = config(dir, 16, 64, Map.of("disk_write_through", true));
        int[] tokens = TestCaches.randomTokens(600, rnd);
        long[] slots = TestCaches.randomSlots(EngineFixture.LAYOUT, 600, rnd);
        byte[] rows;
        try (EngineFixture first = new EngineFixture(cfg)) {
            first.engine.store(tokens, slots, 0);
            rows = first.caches.rows(slots, 0, 600);
            await("records written", () -> first.engine.stats().disk().records() == 3);
        }
        open(cfg);
        assertEquals(3, f.engine.stats().disk().records());
        f.caches.zero();
        assertEquals(600, f.engine.retrieve(tokens, slots, 0));
        assertArrayEquals(rows, f.caches.rows(slots, 0, 600));
        f.close(); // one directory belongs to one engine at a time
        f = null;

        try (CacheEngine other = CacheEngine.builder().config(cfg).layout(EngineFixture.LAYOUT).model("other-model").open()) {
            assertEquals(0, other.lookup(tokens));
            assertEquals(0, other.stats().disk().records());
            assertEquals(3, other.stats().disk().foreignRecords());
        }
    }

    @Test
    void capacity_isNeverExceeded_andOldestRecordsGo() throws IOException {
        open(config(dir, 32, 4, Map.of("disk_write_through", true)));
        for (int i = 0; i < 4; i++) {
            f.engine.store(TestCaches.randomTokens(512, rnd), TestCaches.randomSlots(f.caches.layout, 512, rnd), 0);
            int written = 2 * (i + 1);
            await("records written", () -> f.engine.stats().disk().writes() == written);
            DiskStats d = f.engine.stats().disk();
            assertEquals(Math.min(4, written), d.records());
            assertTrue(d.usedBytes() <= d.capacityBytes(), d.toString());
            long onDisk = 0;
            for (Path p : records(dir)) {
                onDisk += Files.size(p);
            }
            assertTrue(onDisk <= d.capacityBytes(), "files take " + onDisk);
        }
        assertEquals(4, f.engine.stats().disk().evictions());
    }

    @Test
    @org.lmcache4j.ProvokesFaults("a corrupt record")
    void corruptRecord_isAMiss_thePrefixBeforeItStillLoads() throws IOException {
        open(config(dir, 16, 64, Map.of("disk_write_through", true)));
        int[] tokens = TestCaches.randomTokens(768, rnd);
        long[] slots = TestCaches.randomSlots(f.caches.layout, 768, rnd);
        f.engine.store(tokens, slots, 0);
        byte[] rows = f.caches.rows(slots, 0, 256);
        await("records", () -> f.engine.stats().disk().records() == 3);
        f.engine.clear();
        Path second = recordOf(f, tokens, 1);
        try (FileChannel ch = FileChannel.open(second, StandardOpenOption.WRITE)) {
            ch.write(java.nio.ByteBuffer.wrap(new byte[]{0x55}), 4096 + 100);
        }
        f.caches.zero();
        assertEquals(256, f.engine.retrieve(tokens, slots, 0), "chunk 1 fails its checksum: only chunk 0 loads");
        assertArrayEquals(rows, f.caches.rows(slots, 0, 256));
        assertEquals(1, f.engine.stats().disk().readFailures());
        assertFalse(Files.exists(second), "a corrupt record is deleted");
        assertEquals(256, f.engine.lookup(tokens));
    }

    @Test
    @org.lmcache4j.ProvokesFaults("truncated and deleted records")
    void truncatedAndDeletedRecords_areMisses() throws IOException {
        open(config(dir, 16, 64, Map.of("disk_write_through", true)));
        int[] tokens = TestCaches.randomTokens(768, rnd);
        long[] slots = TestCaches.randomSlots(f.caches.layout, 768, rnd);
        f.engine.store(tokens, slots, 0);
        await("records", () -> f.engine.stats().disk().records() == 3);
        f.engine.clear();
        try (FileChannel ch = FileChannel.open(recordOf(f, tokens, 2), StandardOpenOption.WRITE)) {
            ch.truncate(5000);
        }
        Files.delete(recordOf(f, tokens, 1));
        assertEquals(256, f.engine.retrieve(tokens, slots, 0));
        assertEquals(2, f.engine.stats().disk().readFailures(), "both are read in parallel, both fail");
        assertEquals(256, f.engine.lookup(tokens));
    }

    @Test
    @org.lmcache4j.ProvokesFaults("a second engine on a claimed directory")
    void aSecondEngineOnTheSameDirectory_servesWithoutADiskTier_andTheFirstKeepsIts() {
        EngineConfig cfg = config(dir, 16, 64, Map.of("disk_write_through", true));
        open(cfg);
        try (EngineFixture second = new EngineFixture(cfg)) {
            assertFalse(second.engine.stats().disk().enabled(), "the directory is the first engine's");
            int[] tokens = TestCaches.randomTokens(300, rnd);
            long[] slots = TestCaches.randomSlots(second.caches.layout, 300, rnd);
            assertEquals(300, second.engine.store(tokens, slots, 0));
            assertEquals(300, second.engine.lookup(tokens), "served from memory");
        }
        int[] tokens = TestCaches.randomTokens(512, rnd);
        f.engine.store(tokens, TestCaches.randomSlots(f.caches.layout, 512, rnd), 0);
        await("the first engine's records", () -> f.engine.stats().disk().records() == 2);
    }

    @Test
    @org.lmcache4j.ProvokesFaults("an unusable disk directory")
    void unusableDirectory_engineServesFromMemory() throws IOException {
        Path file = Files.writeString(dir.resolve("not-a-directory"), "x");
        open(config(file, 8, 64, Map.of()));
        assertFalse(f.engine.stats().disk().enabled());
        int[] tokens = TestCaches.randomTokens(300, rnd);
        long[] slots = TestCaches.randomSlots(f.caches.layout, 300, rnd);
        assertEquals(300, f.engine.store(tokens, slots, 0));
        assertEquals(300, f.engine.retrieve(tokens, slots, 0));
    }

    @Test
    void bufferedIo_roundTripsToo() {
        open(config(dir, 16, 64, Map.of("disk_write_through", true, "use_odirect", false, "disk_codec", "lz4")));
        assertFalse(f.engine.stats().disk().oDirect());
        int[] tokens = TestCaches.randomTokens(300, rnd);
        long[] slots = TestCaches.randomSlots(f.caches.layout, 300, rnd);
        f.engine.store(tokens, slots, 0);
        byte[] rows = f.caches.rows(slots, 0, 300);
        await("records", () -> f.engine.stats().disk().records() == 2);
        f.engine.clear();
        f.caches.zero();
        assertEquals(300, f.engine.retrieve(tokens, slots, 0));
        assertArrayEquals(rows, f.caches.rows(slots, 0, 300));
    }

    @Test
    void directIo_isUsedWhereTheFileSystemAllowsIt() throws IOException {
        open(config(dir, 8, 8, Map.of()));
        String fs = Files.getFileStore(dir).type();
        assertEquals(!fs.equals("tmpfs"), f.engine.stats().disk().oDirect(), "file system " + fs);
    }

    @Test
    void concurrentRetrievesOfAPromptOnDisk_loadExactlyAndLeakNothing() throws Exception {
        // Four I/O threads: up to 16 write-through writes wait at a time, enough for all 12 chunks.
        open(config(dir, 32, 64, Map.of("disk_write_through", true, "disk_io_threads", 4)));
        int[] tokens = TestCaches.randomTokens(12 * 256, rnd);
        long[] slots = TestCaches.randomSlots(f.caches.layout, tokens.length, rnd);
        f.engine.store(tokens, slots, 0);
        byte[] rows = f.caches.rows(slots, 0, tokens.length);
        await("records", () -> f.engine.stats().disk().records() == 12);
        java.util.concurrent.ExecutorService pool = java.util.concurrent.Executors.newFixedThreadPool(2);
        try {
            for (int round = 0; round < 30; round++) {
                f.engine.clear();
                java.util.List<java.util.concurrent.Future<Integer>> both = pool.invokeAll(java.util.List.of(
                        () -> f.engine.retrieve(tokens, slots, 0), () -> f.engine.retrieve(tokens, slots, 0)));
                for (java.util.concurrent.Future<Integer> r : both) {
                    int n = r.get(); // a race makes one of them stop early, never throw
                    assertTrue(n % 256 == 0 && n <= tokens.length, "loaded " + n);
                }
                assertArrayEquals(rows, f.caches.rows(slots, 0, tokens.length));
                assertEquals(0, f.engine.stats().leases());
            }
        } finally {
            pool.shutdown();
        }
        assertEquals(0, f.engine.stats().disk().readFailures());
    }

    @Test
    void pinnedChunks_areWrittenToDiskAtClose() {
        EngineConfig cfg = config(dir, 16, 64, Map.of());
        int[] tokens = TestCaches.randomTokens(512, rnd);
        long[] slots = TestCaches.randomSlots(EngineFixture.LAYOUT, 512, rnd);
        EngineFixture first = new EngineFixture(cfg);
        first.engine.store(tokens, slots, 0);
        first.engine.lookupAndPin("still-pinned", KeyScope.NONE, tokens);
        first.engine.close(); // a graceful close writes the pool, pinned chunks included
        first.caches.close();
        open(cfg);
        assertEquals(512, f.engine.lookup(tokens));
    }

    /**
     * A disk tier smaller than the pool: a graceful close writes only the newest chunks that fit,
     * each once (a later write evicts an earlier record, and offering that chunk again went round
     * for ever), and the next engine finds the newest prompt.
     */
    @Test
    void diskSmallerThanThePool_closeWritesTheNewestChunksThatFit_once() {
        EngineConfig cfg = config(dir, 32, 4, Map.of());
        int[][] prompts = new int[10][];
        EngineFixture first = new EngineFixture(cfg);
        for (int i = 0; i < prompts.length; i++) {
            prompts[i] = TestCaches.randomTokens(512, rnd);
            first.engine.store(prompts[i], TestCaches.randomSlots(first.caches.layout, 512, rnd), 0);
        }
        assertEquals(0, first.engine.stats().spilledChunks(), "20 of 32 pages: below the watermark, nothing spilled");
        assertEquals(0, first.engine.stats().leases());
        org.junit.jupiter.api.Assertions.assertTimeoutPreemptively(java.time.Duration.ofSeconds(20), () -> {
            first.engine.close();
            first.caches.close();
        });
        DiskStats d = first.engine.stats().disk();
        assertEquals(4, d.writes(), "the four newest chunks, no more: " + d);
        assertEquals(0, d.evictions());
        open(cfg);
        assertEquals(512, f.engine.lookup(prompts[9]));
        assertEquals(512, f.engine.lookup(prompts[8]));
        assertEquals(0, f.engine.lookup(prompts[7]));
    }

    @Test
    void aStore_neverEvictsItsOwnPrefix() {
        open(EngineFixture.poolOfChunks(4));
        int[] p = TestCaches.randomTokens(1024, rnd);
        long[] slots = TestCaches.randomSlots(f.caches.layout, 1024, rnd);
        f.engine.store(java.util.Arrays.copyOf(p, 512), java.util.Arrays.copyOf(slots, 512), 0);
        f.engine.store(TestCaches.randomTokens(512, rnd), java.util.Arrays.copyOf(slots, 512), 0);
        f.engine.store(p, slots, 0);
        assertEquals(1024, f.engine.lookup(p), "the other prompt went, not this one's first chunks");
    }

    @Test
    void aStoreWithSkipLeading_keepsThePrefixMoreRecentThanTheSuffix() {
        open(EngineFixture.poolOfChunks(4));
        int[] p = TestCaches.randomTokens(768, rnd);
        long[] slots = TestCaches.randomSlots(f.caches.layout, 768, rnd);
        f.engine.store(java.util.Arrays.copyOf(p, 256), java.util.Arrays.copyOf(slots, 256), 0);
        f.engine.store(p, slots, 256); // the caller (vLLM) knows chunk 0 is cached: stores 1 and 2
        f.engine.store(TestCaches.randomTokens(512, rnd), java.util.Arrays.copyOf(slots, 512), 0);
        // 5 chunks in 4 pages: one had to go, the prompt's last (its prefix was touched after it).
        assertEquals(512, f.engine.lookup(p), "chunks 0 and 1 survive, chunk 2 went");
        assertEquals(1, f.engine.stats().evictions());
    }

    /** The record file of chunk {@code c} of {@code tokens}, found through the engine's own keys. */
    static Path recordOf(EngineFixture f, int[] tokens, int c) {
        String hex = f.engine.hasher().keys(KeyScope.NONE, tokens)[c].hex();
        return Path.of(f.engine.config().localDisk().orElseThrow()).resolve(hex.substring(0, 2)).resolve(hex + ".lmc");
    }
}
