package org.lmcache4j;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.lmcache4j.metrics.MetricsRegistry;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Prefetch from the disk tier, on real files: what lands, what a retrieve then reads, and that nothing leaks. */
class PrefetchDiskTest {
    private static final Duration WAIT = Duration.ofSeconds(20);
    private final Random rnd = new Random(14);
    private EngineFixture f;

    @TempDir
    Path dir;

    @AfterEach
    void noLeaks() {
        if (f != null) {
            f.close(); // asserts no lease, pin or page is left
        }
    }

    private EngineFixture open(int poolChunks, Map<String, Object> extra) {
        f = new EngineFixture(DiskTierEngineTest.config(dir, poolChunks, 64, extra));
        return f;
    }

    /** Stores {@code tokens} written through to disk, then empties the pool: only the disk holds them. */
    private byte[] onDiskOnly(int[] tokens, long[] slots) {
        f.engine.store(tokens, slots, 0);
        byte[] rows = f.caches.rows(slots, 0, tokens.length);
        int chunks = (tokens.length + 255) / 256;
        DiskTierEngineTest.await("records written", () -> f.engine.stats().disk().records() >= chunks
                && f.engine.stats().leases() == 0);
        f.engine.clear();
        return rows;
    }

    private static Prefetch finished(Prefetch p) throws InterruptedException {
        assertTrue(p.await(WAIT), "prefetch did not finish: " + p);
        return p;
    }

    @Test
    void diskPrefix_isPrefetched_andTheRetrieveLoadsItFromThePool() throws Exception {
        open(16, Map.of("disk_write_through", true));
        int[] tokens = TestCaches.randomTokens(700, rnd);
        long[] slots = TestCaches.randomSlots(f.caches.layout, 700, rnd);
        byte[] rows = onDiskOnly(tokens, slots);
        try (Prefetch p = finished(f.engine.prefetch(KeyScope.NONE, tokens))) {
            assertEquals(Prefetch.State.DONE, p.state());
            assertEquals(700, p.readyTokens());
            assertEquals(700, p.tokens());
        }
        EngineStats s = f.engine.stats();
        assertEquals(3, s.chunks(), "promoted into the pool");
        assertEquals(3, s.disk().reads());
        assertEquals(700, s.prefetch().diskTokens());
        assertEquals(new PrefetchStats(1, 0, 0, 700, 0, 0, 0), s.prefetch());
        f.caches.zero();
        assertEquals(700, f.engine.retrieve(tokens, slots, 0));
        assertArrayEquals(rows, f.caches.rows(slots, 0, 700), "the prefetched bytes are the stored ones");
        EngineStats after = f.engine.stats();
        assertEquals(0, after.diskHitTokens(), "the retrieve read nothing from disk");
        assertEquals(3, after.disk().reads(), "and sent no disk read");
        assertEquals(700, after.retrievedTokens());
    }

    @Test
    void prefixAlreadyInThePool_completesAtOnce_withoutReading() {
        open(16, Map.of());
        int[] tokens = TestCaches.randomTokens(600, rnd);
        f.engine.store(tokens, TestCaches.randomSlots(f.caches.layout, 600, rnd), 0);
        Prefetch p = f.engine.prefetch(KeyScope.NONE, tokens);
        assertTrue(p.isDone(), "finished on return: " + p);
        assertEquals(Prefetch.State.DONE, p.state());
        assertEquals(600, p.readyTokens());
        assertEquals(0, f.engine.stats().disk().reads());
        assertEquals(1, f.engine.stats().prefetch().finishedOpen(), "until its handle is closed");
        p.close();
        p.close();
        assertEquals(0, f.engine.stats().prefetch().finishedOpen());
        assertFalse(p.cancel(), "a finished prefetch cannot be cancelled");
        assertEquals(Prefetch.State.DONE, p.state());
    }

    @Test
    void withoutALowerTier_aPrefetchSaysWhatThePoolHolds_atOnce() {
        f = new EngineFixture(EngineFixture.poolOfChunks(8));
        int[] tokens = TestCaches.randomTokens(512, rnd);
        f.engine.store(tokens, TestCaches.randomSlots(f.caches.layout, 512, rnd), 0);
        int[] longer = java.util.Arrays.copyOf(tokens, 900);
        try (Prefetch p = f.engine.prefetch(KeyScope.NONE, longer)) {
            assertTrue(p.isDone());
            assertEquals(512, p.readyTokens(), "the two chunks in the pool, nothing after them");
        }
    }

    @Test
    @ProvokesFaults("a disk record corrupted under a prefetch")
    void corruptRecord_isAMiss_onlyThePrefixBeforeItLands() throws Exception {
        open(16, Map.of("disk_write_through", true));
        int[] tokens = TestCaches.randomTokens(768, rnd);
        long[] slots = TestCaches.randomSlots(f.caches.layout, 768, rnd);
        onDiskOnly(tokens, slots);
        byte[] firstChunk = f.caches.rows(slots, 0, 256);
        try (FileChannel ch = FileChannel.open(DiskTierEngineTest.recordOf(f, tokens, 1), StandardOpenOption.WRITE)) {
            ch.write(ByteBuffer.wrap(new byte[]{0x55}), 4096 + 100);
        }
        try (Prefetch p = finished(f.engine.prefetch(KeyScope.NONE, tokens))) {
            assertEquals(Prefetch.State.DONE, p.state(), "a miss is not a failure");
            assertEquals(256, p.readyTokens(), "chunk 1 fails its checksum: chunk 2 is not published after the gap");
        }
        EngineStats s = f.engine.stats();
        assertEquals(1, s.chunks(), "the unverified chunks left the pool");
        assertEquals(1, s.disk().readFailures());
        assertEquals(256, s.prefetch().diskTokens());
        f.caches.zero();
        assertEquals(256, f.engine.retrieve(tokens, slots, 0));
        assertArrayEquals(firstChunk, f.caches.rows(slots, 0, 256), "no wrong bytes");
        assertEquals(0, f.engine.stats().diskHitTokens());
    }

    @Test
    void poolFillingWithPrefetchedChunks_stopsAtTheLastPage_storesSkipWhilePinned_andEvictThemAfter() throws Exception {
        int[] tokens = TestCaches.randomTokens(2048, rnd);
        long[] slots = TestCaches.randomSlots(EngineFixture.LAYOUT, 2048, rnd);
        try (EngineFixture writer = new EngineFixture(DiskTierEngineTest.config(dir, 16, 64,
                Map.of("disk_write_through", true)))) {
            writer.engine.store(tokens, slots, 0);
            DiskTierEngineTest.await("8 records", () -> writer.engine.stats().disk().records() == 8);
        }
        open(4, Map.of());
        assertEquals(8, f.engine.stats().disk().records(), "found at start-up");
        byte[] rows = f.caches.rows(slots, 0, 1024); // the same seed as the writer's caches
        try (Prefetch p = finished(f.engine.prefetchAndPin("req", KeyScope.NONE, tokens))) {
            assertEquals(Prefetch.State.DONE, p.state());
            assertEquals(1024, p.readyTokens(), "four pages: four chunks, then the pool is full");
        }
        EngineStats full = f.engine.stats();
        assertEquals(4, full.pagesInUse(), "pinned: neither the spiller nor an eviction takes them");
        assertEquals(4, full.pins());
        assertEquals(4, full.leases(), "the pins' leases, nothing else");
        int[] other = TestCaches.randomTokens(512, rnd);
        long[] otherSlots = TestCaches.randomSlots(f.caches.layout, 512, rnd);
        assertEquals(0, f.engine.store(other, otherSlots, 0), "a pool full of pinned chunks: the store skips, never waits");
        assertEquals(2, f.engine.stats().storeSkippedChunks());
        f.caches.zero();
        assertEquals(1024, f.engine.retrieve(tokens, slots, 0), "from the pool; no page is left for chunk 4");
        assertArrayEquals(rows, f.caches.rows(slots, 0, 1024));
        assertEquals(0, f.engine.stats().diskHitTokens());
        assertEquals(4, f.engine.unpin("req"));
        assertEquals(512, f.engine.store(other, otherSlots, 0), "unpinned, prefetched chunks are evicted like any other");
        assertEquals(512, f.engine.lookup(other));
    }

    @Test
    void aSecondRequestPrefetchingAPrefixBeingRead_waitsForItAndLoadsItAll() throws Exception {
        open(16, Map.of("disk_write_through", true));
        for (int round = 0; round < 10; round++) { // the second prefetch starts while the first reads
            int[] tokens = TestCaches.randomTokens(768, rnd);
            long[] slots = TestCaches.randomSlots(f.caches.layout, 768, rnd);
            byte[] rows = onDiskOnly(tokens, slots);
            try (Prefetch first = f.engine.prefetchAndPin("first", KeyScope.NONE, tokens);
                 Prefetch second = f.engine.prefetchAndPin("second", KeyScope.NONE, tokens)) {
                assertEquals(768, finished(second).readyTokens(), "round " + round + ": " + second);
                f.caches.zero();
                assertEquals(768, f.engine.retrieve(tokens, slots, 0));
                assertArrayEquals(rows, f.caches.rows(slots, 0, 768));
                assertEquals(768, finished(first).readyTokens());
            } finally {
                f.engine.unpin("first");
                f.engine.unpin("second");
            }
            f.engine.clear();
        }
    }

    @Test
    void concurrentPrefetchesOfOnePrefix_readEachRecordOnce() throws Exception {
        open(16, Map.of("disk_write_through", true));
        int[] tokens = TestCaches.randomTokens(768, rnd);
        long[] slots = TestCaches.randomSlots(f.caches.layout, 768, rnd);
        byte[] rows = onDiskOnly(tokens, slots);
        ExecutorService callers = Executors.newFixedThreadPool(4);
        List<Prefetch> all = new ArrayList<>();
        try {
            CountDownLatch go = new CountDownLatch(1);
            List<Future<Prefetch>> started = new ArrayList<>();
            for (int i = 0; i < 4; i++) {
                started.add(callers.submit(() -> {
                    go.await();
                    return f.engine.prefetch(KeyScope.NONE, tokens);
                }));
            }
            go.countDown();
            for (Future<Prefetch> s : started) {
                all.add(finished(s.get()));
            }
        } finally {
            callers.shutdown();
        }
        for (Prefetch p : all) {
            assertEquals(Prefetch.State.DONE, p.state());
            p.close();
        }
        EngineStats s = f.engine.stats();
        assertEquals(3, s.disk().reads(), "each record read once: the others found it in the pool or being read");
        assertEquals(768, s.prefetch().diskTokens());
        assertEquals(3, s.chunks());
        f.caches.zero();
        assertEquals(768, f.engine.retrieve(tokens, slots, 0));
        assertArrayEquals(rows, f.caches.rows(slots, 0, 768));
        assertEquals(0, f.engine.stats().diskHitTokens());
    }

    @Test
    void prefetchAndPin_pinsThePrefix_untilUnpinned() throws Exception {
        open(16, Map.of("disk_write_through", true));
        int[] tokens = TestCaches.randomTokens(600, rnd);
        long[] slots = TestCaches.randomSlots(f.caches.layout, 600, rnd);
        onDiskOnly(tokens, slots);
        try (Prefetch p = finished(f.engine.prefetchAndPin("req-1", KeyScope.NONE, tokens))) {
            assertEquals(600, p.readyTokens());
        }
        assertEquals(3, f.engine.stats().pins());
        f.engine.clear();
        assertEquals(0, f.engine.stats().pins(), "clear drops pins too");
        try (Prefetch p = finished(f.engine.prefetchAndPin("req-2", KeyScope.NONE, tokens))) {
            assertEquals(600, p.readyTokens());
        }
        assertEquals(3, f.engine.unpin("req-2"));
        assertEquals(0, f.engine.stats().pins());
    }

    @Test
    void badInput_isRefused_andChangesNothing() {
        open(16, Map.of());
        assertThrows(IllegalArgumentException.class, () -> f.engine.prefetch(KeyScope.NONE, null));
        assertThrows(IllegalArgumentException.class, () -> f.engine.prefetchAndPin("", KeyScope.NONE, new int[]{1}));
        assertThrows(IllegalArgumentException.class, () -> f.engine.prefetchAndPin(null, KeyScope.NONE, new int[]{1}));
        assertEquals(0, f.engine.stats().prefetch().requests());
        IllegalArgumentException bad = assertThrows(IllegalArgumentException.class, () -> CacheEngine.builder()
                .config(EngineFixture.poolOfChunks(4).toBuilder().extraConfig(Map.of("prefetch_max_concurrency", 0)).build())
                .layout(EngineFixture.LAYOUT).open());
        assertTrue(bad.getMessage().contains("extra_config.prefetch_max_concurrency"), bad.getMessage());
        CacheEngine closed = CacheEngine.builder().config(EngineFixture.poolOfChunks(4)).layout(EngineFixture.LAYOUT).open();
        closed.close();
        assertThrows(IllegalStateException.class, () -> closed.prefetch(KeyScope.NONE, new int[]{1, 2}));
    }

    @Test
    void metrics_countPrefetches_underLmcacheNamesWhereTheyExist() throws Exception {
        MetricsRegistry registry = new MetricsRegistry();
        int[] tokens = TestCaches.randomTokens(512, rnd);
        long[] slots = TestCaches.randomSlots(EngineFixture.LAYOUT, 512, rnd);
        try (TestCaches caches = new TestCaches(EngineFixture.LAYOUT);
             CacheEngine engine = CacheEngine.builder().layout(EngineFixture.LAYOUT).model("m").metrics(registry)
                     .config(DiskTierEngineTest.config(dir, 16, 64, Map.of("disk_write_through", true))).open()) {
            caches.fillRandom(3);
            engine.registerKvCaches(caches.addresses());
            engine.store(tokens, slots, 0);
            DiskTierEngineTest.await("records", () -> engine.stats().disk().records() == 2 && engine.stats().leases() == 0);
            engine.clear();
            Prefetch p = engine.prefetch(KeyScope.NONE, tokens);
            assertTrue(p.await(WAIT));
            String labels = "{model_name=\"m\",worker_id=\"0\",role=\"worker\",served_model_name=\"\"}";
            String text = registry.scrape();
            assertTrue(text.contains("lmcache:prefetch_requests_total" + labels + " 1.0\n"), text);
            assertTrue(text.contains("lmcache:prefetch_disk_tokens_total" + labels + " 512.0\n"), text);
            assertTrue(text.contains("lmcache:prefetch_remote_tokens_total" + labels + " 0.0\n"), text);
            assertTrue(text.contains("# TYPE lmcache:storage_events_ongoing_count gauge\n"), text);
            assertTrue(text.contains("lmcache:storage_events_ongoing_count" + labels + " 0.0\n"), text);
            assertTrue(text.contains("lmcache:storage_events_done_count" + labels + " 1.0\n"), "open handle: " + text);
            p.close();
            assertTrue(registry.scrape().contains("lmcache:storage_events_done_count" + labels + " 0.0\n"));
            assertTrue(engine.metricsJson().contains("lmcache:prefetch_cancelled"), "the Python mirror reads it too");
        }
    }

    @Test
    void lookupHit_saysHowMuchOfAHitThePoolHolds_andPinsThatPart() {
        open(16, Map.of("disk_write_through", true));
        int[] tokens = TestCaches.randomTokens(700, rnd);
        long[] slots = TestCaches.randomSlots(f.caches.layout, 700, rnd);
        onDiskOnly(tokens, slots);
        assertEquals(new LookupHit(700, 0), f.engine.lookupHit(null, KeyScope.NONE, tokens), "all on disk");
        // a retrieve of the first chunk promotes it into the pool
        assertEquals(256, f.engine.retrieve(java.util.Arrays.copyOf(tokens, 256), java.util.Arrays.copyOf(slots, 256), 0));
        LookupHit hit = f.engine.lookupHit("req", KeyScope.NONE, tokens);
        assertEquals(new LookupHit(700, 256), hit);
        assertFalse(hit.allInPool());
        assertEquals(1, f.engine.stats().pins(), "only the pool's chunk is pinned");
        assertEquals(1, f.engine.unpin("req"));
        assertEquals(700, f.engine.lookup(tokens), "the same hit as lookup");
        assertTrue(f.engine.lookupHit(null, KeyScope.NONE, new int[] {1, 2, 3}).allInPool(), "no hit: all of it");
        assertThrows(IllegalArgumentException.class, () -> f.engine.lookupHit("", KeyScope.NONE, tokens));
        assertThrows(IllegalArgumentException.class, () -> new LookupHit(5, 6));
    }
}
