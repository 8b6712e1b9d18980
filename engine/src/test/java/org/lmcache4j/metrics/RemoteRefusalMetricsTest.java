package org.lmcache4j.metrics;

import org.junit.jupiter.api.Test;
import org.lmcache4j.CacheEngine;
import org.lmcache4j.EngineConfig;
import org.lmcache4j.KvDtype;
import org.lmcache4j.KvFormat;
import org.lmcache4j.KvLayout;
import org.lmcache4j.TestCaches;
import org.lmcache4j.remote.RedisServer;

import java.util.Map;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The remote tier's metrics: {@code lmcache:remote_write_refusals{reason=…}} counts the writes Redis
 * refused, by reason; LMCache's {@code remote_time_to_get} / {@code remote_time_to_put} time reads and
 * writes; {@code remote_cache_usage} is the Redis server's {@code used_memory}.
 */
class RemoteRefusalMetricsTest {
    private static final KvLayout LAYOUT = new KvLayout(2, 2, 8, KvDtype.FLOAT16, 16, 256, KvFormat.FLASH_ATTN);

    @Test
    void scrape_countsRefusedWritesByReason() throws Exception {
        MetricsRegistry registry = new MetricsRegistry();
        Random rnd = new Random(5);
        try (RedisServer replica = RedisServer.start("--replicaof", "127.0.0.1", "1"); // read-only
             TestCaches caches = new TestCaches(LAYOUT);
             CacheEngine engine = CacheEngine.builder().layout(LAYOUT).metrics(registry)
                     .config(EngineConfig.builder().maxLocalCpuSizeGb(0.01).remoteUrl(replica.url())
                             .extraConfig(Map.of("remote_timeout_ms", 1000)).build()).open()) {
            engine.registerKvCaches(caches.addresses());
            engine.store(TestCaches.randomTokens(256, rnd), TestCaches.randomSlots(LAYOUT, 256, rnd), 0);
            long deadline = System.nanoTime() + 10_000_000_000L;
            while (engine.stats().remote().writesRefused() == 0 && System.nanoTime() < deadline) {
                Thread.sleep(5);
            }
            String text = registry.scrape();
            assertTrue(text.contains(",reason=\"readonly\"} 1.0\n"), text);
            assertTrue(text.contains(",reason=\"oom\"} 0.0\n"), text);
            assertTrue(text.contains("lmcache:remote_healthy{model_name=\"default\",worker_id=\"0\",role=\"worker\",served_model_name=\"\"} 1.0\n"), text);
            engine.clear();
        }
    }

    @Test
    void scrape_remoteCacheUsage_isTheRedisServersUsedMemory() throws Exception {
        MetricsRegistry registry = new MetricsRegistry();
        Random rnd = new Random(7);
        try (RedisServer redis = RedisServer.start();
             TestCaches caches = new TestCaches(LAYOUT);
             CacheEngine engine = CacheEngine.builder().layout(LAYOUT).metrics(registry)
                     .config(EngineConfig.builder().maxLocalCpuSizeGb(0.01).remoteUrl(redis.url()).build()).open()) {
            engine.registerKvCaches(caches.addresses());
            engine.store(TestCaches.randomTokens(512, rnd), TestCaches.randomSlots(LAYOUT, 512, rnd), 0);
            long deadline = System.nanoTime() + 10_000_000_000L; // the first poll runs as the tier connects
            while ((engine.stats().remote().serverUsedBytes() == 0 || engine.stats().leases() > 0)
                    && System.nanoTime() < deadline) {
                Thread.sleep(5);
            }
            long used = engine.stats().remote().serverUsedBytes();
            assertTrue(used > 0, "Redis's used_memory: " + used);
            String text = registry.scrape();
            assertTrue(text.contains("# TYPE lmcache:remote_cache_usage gauge\n"), text);
            assertTrue(text.contains("lmcache:remote_cache_usage{model_name=\"default\",worker_id=\"0\",role=\"worker\","
                    + "served_model_name=\"\"} " + GoFloat.format(used) + "\n"), text);
            engine.clear();
            assertEquals(0, engine.stats().leases());
        }
    }

    @Test
    void scrape_timesRemoteReadBatchesAndWritesInMilliseconds() throws Exception {
        MetricsRegistry registry = new MetricsRegistry();
        Random rnd = new Random(6);
        try (TestCaches caches = new TestCaches(LAYOUT);
             CacheEngine engine = CacheEngine.builder().layout(LAYOUT).metrics(registry).model("remote-timings-" + rnd.nextInt())
                     .config(EngineConfig.builder().maxLocalCpuSizeGb(0.01).remoteUrl(RedisServer.shared().url()).build())
                     .open()) {
            engine.registerKvCaches(caches.addresses());
            int[] tokens = TestCaches.randomTokens(512, rnd);
            long[] slots = TestCaches.randomSlots(LAYOUT, 512, rnd);
            engine.store(tokens, slots, 0);
            long deadline = System.nanoTime() + 10_000_000_000L;
            while ((engine.stats().remote().writes() < 2 || engine.stats().leases() > 0) && System.nanoTime() < deadline) {
                Thread.sleep(5);
            }
            engine.clear(); // only Redis has the chunks now
            assertEquals(512, engine.retrieve(tokens, slots, 0));
            String text = registry.scrape();
            assertTrue(text.contains("# TYPE lmcache:remote_time_to_put histogram\n"), text);
            assertTrue(text.matches("(?s).*lmcache:remote_time_to_put_count\\{[^}]*} 2\\.0\n.*"), text);
            assertTrue(text.matches("(?s).*lmcache:remote_time_to_get_count\\{[^}]*} 1\\.0\n.*"), text);
            assertTrue(text.contains(",le=\"10000.0\"} "), "LMCache's millisecond buckets: " + text);
            engine.clear();
            assertEquals(0, engine.stats().leases());
        }
    }
}
