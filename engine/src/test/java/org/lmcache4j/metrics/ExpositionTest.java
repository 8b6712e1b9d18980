package org.lmcache4j.metrics;

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
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The exposition: LMCache's names, kinds, labels and buckets, with the engine's values. */
class ExpositionTest {
    private static final KvLayout LAYOUT = new KvLayout(2, 2, 8, KvDtype.FLOAT16, 16, 256, KvFormat.FLASH_ATTN);
    private static final String LABELS = "model_name=\"m\",worker_id=\"3\",role=\"worker\",served_model_name=\"s\"";

    private static CacheEngine open(MetricsRegistry registry, String model, String served) {
        return CacheEngine.builder().layout(LAYOUT).model(model).parallel(4, 3).metricLabels("worker", served)
                .metrics(registry).config(EngineConfig.builder().maxLocalCpuSizeGb(0.01).build()).open();
    }

    @Test
    void scrape_showsLmcacheNamesKindsLabelsAndValues() {
        MetricsRegistry registry = new MetricsRegistry();
        Random rnd = new Random(1);
        try (TestCaches caches = new TestCaches(LAYOUT); CacheEngine engine = open(registry, "m", "s")) {
            engine.registerKvCaches(caches.addresses());
            int[] tokens = TestCaches.randomTokens(600, rnd);
            long[] slots = TestCaches.randomSlots(LAYOUT, 600, rnd);
            engine.lookup(tokens); // a miss
            engine.store(tokens, slots, 0);
            engine.lookup(tokens);
            engine.retrieve(tokens, slots, 0);
            engine.countPrompt(600, 16);
            String text = registry.scrape();
            assertTrue(text.contains("# TYPE lmcache:num_hit_tokens_total counter\n"), text);
            assertTrue(text.contains("lmcache:num_hit_tokens_total{" + LABELS + "} 600.0\n"), text);
            assertTrue(text.contains("lmcache:num_stored_tokens_total{" + LABELS + "} 600.0\n"), text);
            assertTrue(text.contains("lmcache:num_lookup_hits_total{" + LABELS + "} 600.0\n"), text);
            assertTrue(text.contains("lmcache:num_prompt_tokens_total{" + LABELS + "} 600.0\n"), text);
            assertTrue(text.contains("lmcache:num_vllm_hit_tokens_total{" + LABELS + "} 16.0\n"), text);
            assertTrue(text.contains("lmcache:lookup_0_hit_requests_total{" + LABELS + "} 1.0\n"), text);
            assertTrue(text.contains("# TYPE lmcache:retrieve_hit_rate gauge\n"), text);
            assertTrue(text.contains("lmcache:active_memory_objs_count{" + LABELS + "} 3.0\n"), text);
            assertTrue(text.contains("lmcache:local_cache_usage{" + LABELS + "} " + (double) engine.stats().usedBytes()), text);
            assertTrue(text.contains("# TYPE lmcache:remote_cache_usage gauge\n"), text);
            assertTrue(text.contains("lmcache:remote_cache_usage{" + LABELS + "} 0.0\n"), "no remote tier: " + text);
            assertTrue(text.contains("# TYPE lmcache:time_to_store histogram\n"), text);
            assertTrue(text.contains("lmcache:time_to_store_bucket{" + LABELS + ",le=\"0.001\"} "), text);
            assertTrue(text.contains("lmcache:time_to_store_bucket{" + LABELS + ",le=\"+Inf\"} 1.0\n"), text);
            assertTrue(text.contains("lmcache:time_to_store_count{" + LABELS + "} 1.0\n"), text);
            assertTrue(text.contains("lmcache:time_to_lookup_bucket{" + LABELS + ",le=\"1e-05\"} "), text);
            assertTrue(text.contains("lmcache:time_to_lookup_bucket{" + LABELS + ",le=\"5.24288\"} "), text);
            assertTrue(text.contains("lmcache:retrieve_speed_bucket{" + LABELS + ",le=\"65536.0\"} "), text);
            assertTrue(text.contains("lmcache:retrieve_speed_count{" + LABELS + "} 1.0\n"), text);
            assertTrue(text.contains("lmcache:request_cache_hit_rate_bucket{" + LABELS + ",le=\"1.0\"} 1.0\n"), text);
            assertTrue(text.contains("lmcache:remote_write_refusals_total{" + LABELS + ",reason=\"oom\"} 0.0\n"), text);
            assertFalse(text.contains("_seconds"), "no unit suffixes on LMCache's names: " + text);
            assertFalse(text.contains("_created"), text);
            engine.clear();
            assertEquals(0, engine.stats().leases());
        }
        assertFalse(registry.scrape().contains("{model_name"), "a closed engine leaves the endpoint");
    }

    @Test
    void labelValues_withQuotesNewlinesAndBackslashes_areEscaped() {
        MetricsRegistry registry = new MetricsRegistry();
        try (CacheEngine engine = open(registry, "org/\"quoted\"\nmodel\\v1", "a\\b")) {
            engine.lookup(new int[]{1, 2, 3});
            String text = registry.scrape();
            assertTrue(text.contains("lmcache:num_lookup_requests_total{model_name=\"org/\\\"quoted\\\"\\nmodel\\\\v1\","
                    + "worker_id=\"3\",role=\"worker\",served_model_name=\"a\\\\b\"} 1.0\n"), text);
            for (String line : text.split("\n")) {
                assertTrue(line.startsWith("#") || line.startsWith("lmcache:"), "one sample a line: " + line);
            }
        }
    }

    @Test
    void twoEnginesWithTheSameLabels_secondIsRefused_andNothingLeaks() {
        MetricsRegistry registry = new MetricsRegistry();
        try (CacheEngine first = open(registry, "m", "s")) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> open(registry, "m", "s"));
            assertTrue(e.getMessage().contains("already registered"), e.getMessage());
            try (CacheEngine other = open(registry, "m", "other")) {
                String text = registry.scrape();
                assertEquals(1, text.split("# TYPE lmcache:num_hit_tokens_total counter", -1).length - 1, text);
                assertTrue(text.contains("served_model_name=\"other\"} "), text);
                assertEquals(0, other.stats().leases());
            }
            assertEquals(0, first.stats().leases());
        }
    }

    @Test
    void countPrompt_badCounts_refusedAndNothingCounted() {
        MetricsRegistry registry = new MetricsRegistry();
        try (CacheEngine engine = open(registry, "m", "s")) {
            assertThrows(IllegalArgumentException.class, () -> engine.countPrompt(-1, 0));
            assertThrows(IllegalArgumentException.class, () -> engine.countPrompt(10, 11));
            assertTrue(registry.scrape().contains("lmcache:num_prompt_tokens_total{" + LABELS + "} 0.0\n"));
        }
        try (CacheEngine bare = CacheEngine.builder().layout(LAYOUT)
                .config(EngineConfig.builder().maxLocalCpuSizeGb(0.01).build()).open()) {
            bare.countPrompt(10, 2); // nothing to count into: accepted, no effect
            assertThrows(IllegalStateException.class, bare::metricsJson);
        }
    }

    @Test
    void server_answersScrapesOverHttp() throws Exception {
        try (MetricsServer server = MetricsServer.start("127.0.0.1", 0);
             HttpClient client = HttpClient.newHttpClient();
             CacheEngine engine = open(server.registry(), "m", "s")) {
            engine.lookup(new int[]{1, 2, 3});
            HttpResponse<String> resp = client.send(HttpRequest.newBuilder(
                    URI.create("http://127.0.0.1:" + server.port() + "/metrics")).build(),
                    HttpResponse.BodyHandlers.ofString());
            assertEquals(200, resp.statusCode());
            assertTrue(resp.body().contains("lmcache:num_lookup_requests_total{" + LABELS + "} 1.0"), resp.body());
        }
    }

    @Test
    void numbers_areWrittenAsPrometheusClientWritesThem() {
        assertEquals("1e-05", GoFloat.format(0.00001));
        assertEquals("0.00016", GoFloat.format(0.00001 * 16));
        assertEquals("5.24288", GoFloat.format(0.00001 * Math.pow(2, 19)));
        assertEquals("600.0", GoFloat.format(600));
        assertEquals("65536.0", GoFloat.format(65536));
        assertEquals("1.234567e+06", GoFloat.format(1234567));
        assertEquals("1e+16", GoFloat.pythonRepr(1e16));
        assertEquals("0.0", GoFloat.format(0));
        assertEquals("+Inf", GoFloat.format(Double.POSITIVE_INFINITY));
        assertEquals("-2.5", GoFloat.format(-2.5));
    }
}
