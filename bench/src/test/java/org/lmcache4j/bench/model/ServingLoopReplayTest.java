package org.lmcache4j.bench.model;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.lmcache4j.cli.Main;
import org.yaml.snakeyaml.Yaml;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@code replay --model reference --serving only}: the continuous-batching loop on the tiny model,
 * with a real disk tier in a temporary directory (and a real redis-server), both loading modes.
 */
class ServingLoopReplayTest {
    /** Two hits of four chunks each, 32 tokens a chunk, four tokens out each; three background decoders. */
    private static final String[] TINY = {"replay", "--model", "reference", "--serving", "only", "--size", "tiny",
            "--chunk-size", "32", "--decoders", "3", "--decoder-prompt-tokens", "24", "--hit-requests", "2",
            "--hit-prompt-tokens", "128", "--hit-output-tokens", "4", "--hit-every", "6", "--step-tokens", "64",
            "--serving-warmup", "0", "--serving-rounds", "1", "--json"};

    private static String[] plus(String... more) {
        String[] all = Arrays.copyOf(TINY, TINY.length + more.length);
        System.arraycopy(more, 0, all, TINY.length, more.length);
        return all;
    }

    @SuppressWarnings("unchecked")
    private static Map<String, Object> run(int expectedStatus, String... argv) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        int status = Main.run(argv, new PrintStream(out, true, StandardCharsets.UTF_8),
                new PrintStream(err, true, StandardCharsets.UTF_8));
        assertEquals(expectedStatus, status, err.toString(StandardCharsets.UTF_8));
        return expectedStatus == 0 ? (Map<String, Object>) new Yaml().load(out.toString(StandardCharsets.UTF_8)) : Map.of();
    }

    private static double number(Map<String, Object> j, String key) {
        assertTrue(j.containsKey(key), key + " in " + j);
        return ((Number) j.get(key)).doubleValue();
    }

    /** Every token of every hit equals the run without loads; nothing is left pinned or leased; the disk tier is gone. */
    private static void assertExactAndClean(Map<String, Object> j) {
        assertEquals(0, number(j, "logits_mismatches"));
        assertEquals(0, number(j, "serving_logits_mismatches"));
        assertEquals(0, number(j, "serving_leases_at_end"));
        assertEquals(0, number(j, "serving_pins_at_end"));
        Path disk = Path.of((String) j.get("serving_disk_dir"));
        assertFalse(Files.exists(disk), "the temporary disk tier " + disk + " is removed");
    }

    @Test
    void bothModes_reportLatencies_loadEveryHitFromDisk_andMatchTheRunWithoutLoads(@TempDir Path dir) throws IOException {
        Path plot = dir.resolve("itl.svg");
        Map<String, Object> j = run(0, plus("--plot-itl", plot.toString()));
        for (String key : List.of("itl_ms_p50_quiet", "itl_ms_p99_quiet", "itl_ms_p99_loading_sync",
                "itl_ms_p99_loading_async", "ttft_ms_p50_disk_hit_sync", "ttft_ms_p50_disk_hit_async",
                "load_begin_ms_p50_sync", "load_begin_ms_p50_async")) {
            assertTrue(number(j, key) > 0, key + " = " + j.get(key));
        }
        assertTrue(number(j, "itl_ms_p99_quiet") >= number(j, "itl_ms_p50_quiet"));
        for (String key : List.of("ttft_ms_p50_cpu_hit_whole", "ttft_ms_p50_cpu_hit_layerwise", "layerwise_ttft_ratio")) {
            assertTrue(number(j, key) > 0, key + " = " + j.get(key)); // their logits are in logits_mismatches (0)
        }
        assertFalse(j.containsKey("ttft_ms_p50_remote_hit_sync"), "no Redis, no Redis hits");
        assertEquals(2, number(j, "hit_requests"));
        // Each hit loads all of its prompt but the last token, whose logits it computes.
        assertEquals(2 * 127, number(j, "hit_loaded_tokens_sync"));
        assertEquals(2 * 127, number(j, "hit_loaded_tokens_async"));
        assertTrue(number(j, "serving_loading_steps_sync") >= 2 && number(j, "serving_loading_steps_async") >= 2, j.toString());
        assertEquals(2 + 4, number(j, "prefetches_async"), "one prefetch per hit; the background prompts miss");
        // Each disk hit comes back twice, its prompt in the pool: copied in the step, then in the background.
        assertEquals(4, number(j, "pool_hit_requests"));
        assertEquals(4 * 127, number(j, "pool_hit_loaded_tokens_sync"));
        assertEquals(4 * 127, number(j, "pool_hit_loaded_tokens_async"));
        for (String key : List.of("ttft_ms_p50_pool_hit_sync", "ttft_ms_p50_pool_hit_async_in_step",
                "ttft_ms_p50_pool_hit_async_background", "load_begin_ms_p50_pool_hit_in_step",
                "load_begin_ms_p50_pool_hit_background", "ttft_pool_hit_background_over_in_step")) {
            assertTrue(number(j, key) > 0, key + " = " + j.get(key));
        }
        assertEquals(2 * 6 * 4, number(j, "serving_tokens_checked"), "two modes, six hits, four tokens each");
        assertExactAndClean(j);
        String svg = Files.readString(plot);
        assertTrue(svg.startsWith("<svg") && svg.contains("synchronous loading") && svg.contains("asynchronous loading")
                && svg.contains("<circle"), svg);
    }

    @Test
    void hitsAbortedRightAfterTheirLoadStarted_leaveNoPinLeaseOrBlock() {
        Map<String, Object> j = run(0, plus("--hit-requests", "3", "--abort-hits", "3"));
        assertEquals(6, number(j, "aborted_requests"), "three hits in each mode");
        // An asynchronous load is still reading when its request goes: the prefetch is cancelled or lands unused.
        assertTrue(number(j, "aborted_while_loading") >= 1, j.toString());
        assertEquals(0, number(j, "hit_loaded_tokens_async"), "an aborted request loads nothing");
        assertExactAndClean(j);
    }

    @Test
    void poolFilledByPrefetchedChunks_hitsLoadWhatFitsAndComputeTheRest() {
        // Three 16 KiB pages: a four-chunk prompt cannot be all in the pool at once.
        Map<String, Object> j = run(0, plus("--cpu-gb", "0.00005"));
        double async = number(j, "hit_loaded_tokens_async");
        assertTrue(async > 0 && async < 2 * 127, "some chunks land, not all: " + async);
        assertTrue(number(j, "hit_loaded_tokens_sync") < 2 * 127, j.toString());
        assertExactAndClean(j);
    }

    @Test
    void withRedis_someHitsComeFromRedis() throws Exception {
        String port = System.getenv("LMCACHE4J_TEST_REDIS_PORT");
        Process own = null;
        if (port == null) { // outside ./test.sh: a redis-server of this test's own
            try (ServerSocket s = new ServerSocket(0)) {
                port = String.valueOf(s.getLocalPort());
            }
            own = new ProcessBuilder("redis-server", "--port", port, "--bind", "127.0.0.1", "--save", "",
                    "--appendonly", "no").redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
            Thread.sleep(300);
        }
        try {
            Map<String, Object> j = run(0, plus("--remote-url", "redis://127.0.0.1:" + port));
            assertEquals(4, number(j, "hit_requests"), "two from disk, two from Redis");
            assertTrue(number(j, "ttft_ms_p50_remote_hit_sync") > 0 && number(j, "ttft_ms_p50_remote_hit_async") > 0);
            assertEquals(4 * 127, number(j, "hit_loaded_tokens_async"));
            assertExactAndClean(j);
        } finally {
            if (own != null) {
                own.destroy();
                own.waitFor(10, TimeUnit.SECONDS);
            }
        }
    }

    @Test
    void redisUnreachable_itsHitsComputeTheirWholePrompt_withTheSameLogits() {
        // Port 9 (discard) has no listener here: the engines serve without the remote tier.
        Map<String, Object> j = run(0, plus("--remote-url", "redis://127.0.0.1:9"));
        assertEquals(4, number(j, "hit_requests"));
        assertEquals(2 * 127, number(j, "hit_loaded_tokens_sync"), "only the disk hits load");
        assertEquals(2 * 127, number(j, "hit_loaded_tokens_async"), "only the disk hits load");
        assertExactAndClean(j);
    }

    @Test
    void servingOn_runsTheTtftReplayToo_andAddsUpTheirMismatches() {
        String[] argv = plus("--serving", "on", "--workload", "docs", "--documents", "1", "--document-tokens", "64",
                "--queries", "2", "--query-tokens", "8");
        Map<String, Object> j = run(0, argv);
        assertTrue(number(j, "docs_hit_ttft_speedup") > 0 && number(j, "itl_ms_p99_quiet") > 0, j.toString());
        assertEquals(2, number(j, "requests"), "the TTFT replay's requests");
        assertExactAndClean(j);
    }

    @Test
    void badServingOptions_exitTwo() {
        run(2, plus("--serving", "sometimes"));
        run(2, plus("--abort-hits", "3"));
        run(2, plus("--step-tokens", "0"));
    }
}
