package org.lmcache4j.metrics;

import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import org.junit.jupiter.api.Test;
import org.lmcache4j.CacheEngine;
import org.lmcache4j.EngineConfig;
import org.lmcache4j.KvDtype;
import org.lmcache4j.KvFormat;
import org.lmcache4j.KvLayout;
import org.lmcache4j.TestCaches;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class MicrometerEngineMetricsTest {
    private static final KvLayout LAYOUT = new KvLayout(2, 2, 8, KvDtype.FLOAT16, 16, 256, KvFormat.FLASH_ATTN);

    @Test
    void scrape_showsLmcacheNamesWithEngineValues() {
        PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
        Random rnd = new Random(1);
        try (TestCaches caches = new TestCaches(LAYOUT);
             CacheEngine engine = CacheEngine.builder().layout(LAYOUT).meterRegistry(registry)
                     .config(EngineConfig.builder().maxLocalCpuSizeGb(0.01).build()).open()) {
            engine.registerKvCaches(caches.addresses());
            int[] tokens = TestCaches.randomTokens(600, rnd);
            long[] slots = TestCaches.randomSlots(LAYOUT, 600, rnd);
            engine.store(tokens, slots, 0);
            engine.lookup(tokens);
            engine.retrieve(tokens, slots, 0);
            String text = registry.scrape();
            assertTrue(text.contains("lmcache:num_stored_tokens_total 600.0"), text);
            assertTrue(text.contains("lmcache:num_hit_tokens_total 600.0"), text);
            assertTrue(text.contains("lmcache:num_lookup_hits_total 600.0"), text);
            assertTrue(text.contains("lmcache:retrieve_hit_rate 1.0"), text);
            assertTrue(text.contains("lmcache:active_memory_objs_count 3.0"), text);
            assertTrue(text.contains("lmcache:time_to_store_seconds_count 1"), text);
            assertTrue(text.contains("lmcache:local_cache_usage " + (double) engine.stats().usedBytes()), text);
            assertTrue(text.contains("lmcache:local_storage_usage 0.0"), "no disk tier: " + text);
            assertTrue(text.contains("lmcache:disk_read_seconds_count 0"), text);
            engine.clear();
            assertEquals(0, engine.stats().leases());
            assertEquals(0, engine.stats().pagesInUse());
        }
    }

    @Test
    void server_answersScrapesOverHttp() throws Exception {
        try (MetricsServer server = MetricsServer.start("127.0.0.1", 0);
             HttpClient client = HttpClient.newHttpClient()) {
            try (CacheEngine engine = CacheEngine.builder().layout(LAYOUT).meterRegistry(server.registry())
                    .config(EngineConfig.builder().maxLocalCpuSizeGb(0.01).build()).open()) {
                engine.lookup(new int[]{1, 2, 3});
                HttpResponse<String> resp = client.send(HttpRequest.newBuilder(
                        URI.create("http://127.0.0.1:" + server.port() + "/metrics")).build(),
                        HttpResponse.BodyHandlers.ofString());
                assertEquals(200, resp.statusCode());
                assertTrue(resp.body().contains("lmcache:num_lookup_requests_total 1.0"), resp.body());
            }
        }
    }
}
