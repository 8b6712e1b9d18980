package org.lmcache4j;

import org.junit.jupiter.api.Test;
import org.lmcache4j.remote.RedisCluster;
import org.lmcache4j.remote.RedisServer;
import org.lmcache4j.remote.StderrCapture;

import java.util.List;
import java.util.Map;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The remote tier through the engine, on real redis-server processes. */
class RemoteTierEngineTest {
    private final Random rnd = new Random(21);

    static EngineConfig config(String url, int poolChunks) {
        return EngineFixture.poolOfChunks(poolChunks).toBuilder().remoteUrl(url)
                .extraConfig(Map.of("remote_timeout_ms", 1000)).build();
    }

    /** Waits until every write the engine sent has been answered. */
    static void awaitWrites(EngineFixture f, long writes) {
        DiskTierEngineTest.await(writes + " remote writes",
                () -> f.engine.stats().remote().writes() + f.engine.stats().remote().writesDropped() >= writes
                        && f.engine.stats().leases() == 0);
    }

    /** One engine stores, another (cold pool, same Redis) retrieves byte-exact. */
    private void shareThrough(String url) {
        int[] tokens = TestCaches.randomTokens(700, rnd);
        long[] slots = TestCaches.randomSlots(EngineFixture.LAYOUT, 700, rnd);
        byte[] rows;
        try (EngineFixture a = new EngineFixture(config(url, 16))) {
            a.engine.store(tokens, slots, 0);
            rows = a.caches.rows(slots, 0, 700);
            awaitWrites(a, 3);
            assertEquals(3, a.engine.stats().remote().writes());
        }
        try (EngineFixture b = new EngineFixture(config(url, 16))) {
            assertEquals(700, b.engine.lookup(tokens), "found in Redis by a cold engine");
            b.caches.zero();
            assertEquals(700, b.engine.retrieve(tokens, slots, 0));
            assertArrayEquals(rows, b.caches.rows(slots, 0, 700));
            assertEquals(700, b.engine.stats().remoteHitTokens());
            assertEquals(3, b.engine.stats().chunks(), "promoted into the CPU pool");
            assertEquals(0, b.engine.store(tokens, slots, 0), "cached now: nothing to store");
        }
    }

    @Test
    void twoEngines_oneRedis_shareChunksByteExact() throws Exception {
        shareThrough(RedisServer.shared().url());
    }

    @Test
    void twoEngines_redisClusterOfThreeMasters_shareChunksByteExact() throws Exception {
        try (RedisCluster cluster = RedisCluster.startThreeMasters()) {
            shareThrough(cluster.url());
            for (int i = 0; i < 4; i++) {
                shareThrough(cluster.url());
            }
            assertTrue(cluster.keysPerNode().stream().filter(n -> n > 0).count() >= 2,
                    "chunks spread over the masters: " + cluster.keysPerNode());
        }
    }

    @Test
    void twoEngines_throughSentinel_shareChunksByteExact() throws Exception {
        try (RedisServer master = RedisServer.start();
             RedisServer sentinel = RedisServer.sentinel(master, "lmcache-master")) {
            shareThrough("redis-sentinel://127.0.0.1:" + sentinel.port + "#lmcache-master");
            assertTrue(Long.parseLong(master.cli("dbsize").trim()) >= 3, "the chunks are on the master");
        }
    }

    @Test
    @org.lmcache4j.ProvokesFaults("a Redis killed mid-run")
    void redisKilledMidRun_engineKeepsServing_andReconnects() throws Exception {
        RedisServer redis = RedisServer.start();
        int port = redis.port;
        try (EngineFixture f = new EngineFixture(config(redis.url(), 16))) {
            int[] first = TestCaches.randomTokens(512, rnd);
            long[] slots = TestCaches.randomSlots(f.caches.layout, 512, rnd);
            f.engine.store(first, slots, 0);
            awaitWrites(f, 2);
            redis.kill();
            int[] second = TestCaches.randomTokens(512, rnd);
            for (int i = 0; i < 5; i++) {
                f.engine.store(second, slots, 0);
                assertEquals(512, f.engine.lookup(second));
                assertEquals(512, f.engine.retrieve(first, slots, 0), "served from memory");
                assertEquals(0, f.engine.lookup(TestCaches.randomTokens(300, rnd)), "a dead Redis is a miss");
            }
            DiskTierEngineTest.await("marked unhealthy", () -> !f.engine.stats().remote().healthy());
            assertTrue(f.engine.stats().remote().errors() > 0);
            redis = RedisServer.start(port);
            DiskTierEngineTest.await("reconnected", () -> f.engine.stats().remote().healthy());
            int[] third = TestCaches.randomTokens(256, rnd);
            long before = f.engine.stats().remote().writes();
            f.engine.store(third, java.util.Arrays.copyOf(slots, 256), 0);
            awaitWrites(f, before + 1 + f.engine.stats().remote().writesDropped());
            assertEquals(before + 1, f.engine.stats().remote().writes(), "writes resume");
            assertTrue(f.engine.stats().remote().healthChanges() >= 2);
        } finally {
            redis.close();
        }
    }

    @Test
    void remoteTtl_setsAnExpiryOnEveryRecord() throws Exception {
        RedisServer redis = RedisServer.shared();
        EngineConfig cfg = EngineFixture.poolOfChunks(16).toBuilder().remoteUrl(redis.url())
                .extraConfig(Map.of("remote_ttl_sec", 600)).build();
        try (EngineFixture f = new EngineFixture(cfg)) {
            int[] tokens = TestCaches.randomTokens(256, rnd);
            f.engine.store(tokens, TestCaches.randomSlots(f.caches.layout, 256, rnd), 0);
            awaitWrites(f, 1);
            String key = "lmcache4j:" + f.engine.hasher().keys(KeyScope.NONE, tokens)[0].hex();
            long ttl = Long.parseLong(redis.cli("ttl", key));
            assertTrue(ttl > 500 && ttl <= 600, "ttl " + ttl);
        }
    }

    @Test
    @org.lmcache4j.ProvokesFaults("a hung Redis")
    void hungRedis_answersNothing_requestsStillEndWithinTheTimeout() throws Exception {
        try (RedisServer redis = RedisServer.start();
             EngineFixture f = new EngineFixture(config(redis.url(), 16))) {
            int[] cached = TestCaches.randomTokens(512, rnd);
            long[] slots = TestCaches.randomSlots(f.caches.layout, 512, rnd);
            f.engine.store(cached, slots, 0);
            awaitWrites(f, 2);
            f.engine.clear(); // only Redis has the chunks now
            redis.pause();
            try {
                long start = System.nanoTime();
                assertEquals(0, f.engine.lookup(cached), "a hung Redis is a miss");
                assertEquals(0, f.engine.retrieve(cached, slots, 0));
                f.engine.store(TestCaches.randomTokens(256, rnd), java.util.Arrays.copyOf(slots, 256), 0);
                long millis = (System.nanoTime() - start) / 1_000_000;
                assertTrue(millis < 3_000, "bounded by remote_timeout_ms (1000 ms), took " + millis + " ms");
                assertFalse(f.engine.stats().remote().healthy());
            } finally {
                redis.resume();
            }
            DiskTierEngineTest.await("back", () -> f.engine.stats().remote().healthy());
            assertEquals(512, f.engine.retrieve(cached, slots, 0), "served from Redis again");
        }
    }

    @Test
    @org.lmcache4j.ProvokesFaults("a corrupt value in Redis")
    void corruptValue_isAMissThatIsDeleted() throws Exception {
        RedisServer redis = RedisServer.shared();
        int[] tokens = TestCaches.randomTokens(768, rnd);
        long[] slots = TestCaches.randomSlots(EngineFixture.LAYOUT, 768, rnd);
        byte[] rows;
        String second;
        try (EngineFixture a = new EngineFixture(config(redis.url(), 16))) {
            a.engine.store(tokens, slots, 0);
            rows = a.caches.rows(slots, 0, 256);
            awaitWrites(a, 3);
            second = "lmcache4j:" + a.engine.hasher().keys(KeyScope.NONE, tokens)[1].hex();
        }
        assertEquals("36864", redis.cli("setrange", second, "1000", "X"), "payload 32 KiB + header 4 KiB");
        try (EngineFixture b = new EngineFixture(config(redis.url(), 16))) {
            b.caches.zero();
            assertEquals(256, b.engine.retrieve(tokens, slots, 0), "chunk 1 fails its checksum: only chunk 0");
            assertArrayEquals(rows, b.caches.rows(slots, 0, 256));
            assertEquals(1, b.engine.stats().remote().readFailures());
            DiskTierEngineTest.await("deleted", () -> {
                try {
                    return redis.cli("exists", second).endsWith("0");
                } catch (Exception e) {
                    return false;
                }
            });
        }
    }

    @Test
    @org.lmcache4j.ProvokesFaults("another model's value")
    void valueOfAnotherModelUnderTheKey_isNeverServed() throws Exception {
        RedisServer redis = RedisServer.shared();
        int[] tokens = TestCaches.randomTokens(256, rnd);
        long[] slots = TestCaches.randomSlots(EngineFixture.LAYOUT, 256, rnd);
        String otherKey;
        try (TestCaches caches = new TestCaches(EngineFixture.LAYOUT);
             CacheEngine other = CacheEngine.builder().config(config(redis.url(), 16)).layout(EngineFixture.LAYOUT)
                     .model("another-model").open()) {
            caches.fillRandom(3);
            other.registerKvCaches(caches.addresses());
            other.store(tokens, slots, 0);
            otherKey = "lmcache4j:" + other.hasher().keys(KeyScope.NONE, tokens)[0].hex();
            DiskTierEngineTest.await("written", () -> other.stats().remote().writes() == 1 && other.stats().leases() == 0);
        }
        try (EngineFixture f = new EngineFixture(config(redis.url(), 16))) {
            String mine = "lmcache4j:" + f.engine.hasher().keys(KeyScope.NONE, tokens)[0].hex();
            redis.cli("copy", otherKey, mine, "replace");
            assertEquals(256, f.engine.lookup(tokens), "the key is there");
            byte[] before = f.caches.rows(slots, 0, 256);
            assertEquals(0, f.engine.retrieve(tokens, slots, 0), "but its value is another model's");
            assertArrayEquals(before, f.caches.rows(slots, 0, 256));
            assertEquals(1, f.engine.stats().remote().readFailures());
        }
    }

    @Test
    void keyEvictedByMaxmemoryBetweenLookupAndRetrieve_isAMiss() throws Exception {
        try (RedisServer redis = RedisServer.start("--maxmemory", "3mb", "--maxmemory-policy", "allkeys-lru");
             EngineFixture f = new EngineFixture(config(redis.url(), 16))) {
            int[] tokens = TestCaches.randomTokens(768, rnd);
            long[] slots = TestCaches.randomSlots(f.caches.layout, 768, rnd);
            f.engine.store(tokens, slots, 0);
            awaitWrites(f, 3);
            f.engine.clear();
            assertEquals(768, f.engine.lookup(tokens));
            for (int i = 0; i < 200; i++) { // newer keys push ours out under allkeys-lru
                redis.cli("set", "filler:" + i, "x".repeat(50_000));
            }
            assertTrue(Long.parseLong(redis.cli("info", "stats").lines().filter(l -> l.startsWith("evicted_keys:"))
                    .findFirst().orElseThrow().split(":")[1].trim()) > 0, "Redis evicted keys");
            int loaded = f.engine.retrieve(tokens, slots, 0);
            assertTrue(loaded < 768, "an evicted chunk ends the prefix: " + loaded);
            assertFalse(f.engine.stats().remote().readFailures() == 0 && loaded < 768 && loaded % 256 != 0);
        }
    }

    /**
     * Issue 11: a Redis at maxmemory with noeviction refuses every write. That is its answer, not an
     * outage: the tier stays up (no "failed"/"is back" flapping), the refusals are counted, one WARN
     * says why, and what Redis holds is still served.
     */
    @Test
    @org.lmcache4j.ProvokesFaults("a Redis at its maxmemory")
    void redisRefusingWrites_oneWarning_countedByReason_tierStaysUp_readsGoOn() throws Exception {
        try (RedisServer redis = RedisServer.start("--maxmemory", "2mb", "--maxmemory-policy", "noeviction");
             StderrCapture log = StderrCapture.start();
             EngineFixture f = new EngineFixture(config(redis.url(), 16))) {
            int[] first = TestCaches.randomTokens(512, rnd);
            long[] slots = TestCaches.randomSlots(f.caches.layout, 512, rnd);
            f.engine.store(first, slots, 0);
            byte[] rows = f.caches.rows(slots, 0, 512);
            awaitWrites(f, 2);
            assertEquals(2, f.engine.stats().remote().writes(), "these fit");
            for (int i = 0; i < 40; i++) { // 80 chunks of 36 KiB more: far past 2 MiB
                f.engine.store(TestCaches.randomTokens(512, rnd), slots, 0);
                awaitWrites(f, 2L * (i + 2));
            }
            RemoteStats s = f.engine.stats().remote();
            assertTrue(s.writesRefused("oom") > 0, "refused at maxmemory: " + s);
            assertEquals(s.writesRefused("oom"), s.writesRefused());
            assertEquals(82, s.writes() + s.writesDropped(), s.toString());
            assertTrue(s.healthy(), "an OOM reply is not an outage");
            assertEquals(0, s.healthChanges());
            assertEquals(0, s.errors());

            List<String> warnings = log.remote("WARN");
            assertEquals(1, warnings.size(), String.join("\n", log.lines("org.lmcache4j.remote")));
            assertTrue(warnings.getFirst().contains("Redis refused a write (OOM command not allowed"), warnings.getFirst());
            assertEquals(List.of(), log.remote("INFO").stream().filter(l -> l.contains("is back")).toList());

            f.engine.clear(); // only Redis holds the first chunks now
            f.caches.zero();
            assertEquals(512, f.engine.lookup(first), "lookups go on");
            assertEquals(512, f.engine.retrieve(first, slots, 0), "reads go on");
            assertArrayEquals(rows, f.caches.rows(slots, 0, 512));
            assertEquals(512, f.engine.stats().remoteHitTokens());
        }
    }
}
