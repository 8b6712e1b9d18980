package org.lmcache4j.cli;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.yaml.snakeyaml.Yaml;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The command line, run in-process on small shapes. */
class MainTest {
    private static final String[] SMALL_SHAPE = {"--layers", "4", "--kv-heads", "2", "--head-size", "64",
            "--block-size", "16"};

    private record Result(int status, String out, String err) {
        @SuppressWarnings("unchecked")
        Map<String, Object> json() {
            return (Map<String, Object>) new Yaml().load(out);
        }
    }

    private static Result run(String... argv) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        int status = Main.run(argv, new PrintStream(out, true, StandardCharsets.UTF_8),
                new PrintStream(err, true, StandardCharsets.UTF_8));
        return new Result(status, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
    }

    private static String[] with(String[] base, String... more) {
        String[] all = new String[base.length + more.length];
        System.arraycopy(more, 0, all, 0, more.length);
        System.arraycopy(base, 0, all, more.length, base.length);
        return all;
    }

    @Test
    void replay_json_reportsHitsAndVerifiesEveryByte() {
        Result r = run(with(SMALL_SHAPE, "replay", "--json", "--users", "3", "--rounds", "3", "--cpu-gb", "0.5"));
        assertEquals(0, r.status, r.err);
        Map<String, Object> j = r.json();
        for (String key : new String[]{"requests", "requested_tokens", "hit_tokens", "hit_rate", "stored_tokens",
                "store_gbps", "retrieve_gbps", "verified_bytes", "mismatched_bytes", "evictions"}) {
            assertTrue(j.containsKey(key), key);
        }
        assertEquals(9, ((Number) j.get("requests")).intValue());
        assertTrue(((Number) j.get("hit_tokens")).longValue() > 0);
        assertEquals(0, ((Number) j.get("mismatched_bytes")).longValue());
        assertEquals(0, ((Number) j.get("leases_at_end")).longValue());
        assertEquals(0, ((Number) j.get("pins_at_end")).longValue());
        long tokenBytes = 4 * 2 * 2 * 64 * 2;
        assertEquals(((Number) j.get("hit_tokens")).longValue() * tokenBytes, ((Number) j.get("verified_bytes")).longValue());
    }

    @Test
    void replay_smallPool_evictsAndStillVerifies() {
        Result r = run(with(SMALL_SHAPE, "replay", "--json", "--users", "4", "--rounds", "4", "--cpu-gb", "0.01"));
        assertEquals(0, r.status, r.err);
        Map<String, Object> j = r.json();
        assertTrue(((Number) j.get("evictions")).longValue() > 0, r.out);
        assertEquals(0, ((Number) j.get("mismatched_bytes")).longValue());
    }

    @Test
    void replay_summary_isReadable() {
        Result r = run(with(SMALL_SHAPE, "replay", "--users", "2", "--rounds", "2", "--cpu-gb", "0.1"));
        assertEquals(0, r.status, r.err);
        assertTrue(r.out.contains("hit tokens"), r.out);
        assertTrue(r.out.contains("0 mismatched bytes"), r.out);
    }

    @Test
    void replay_metricsPort_servesLmcacheMetrics() {
        Result r = run(with(SMALL_SHAPE, "replay", "--json", "--users", "2", "--rounds", "2", "--cpu-gb", "0.1",
                "--metrics-port", "0"));
        assertEquals(0, r.status, r.err);
        assertTrue(((Number) r.json().get("metrics_series")).longValue() > 20, r.out);
    }

    @Test
    void info_configFile_givesPoolBytesAndCapacity(@TempDir Path dir) throws Exception {
        Path cfg = dir.resolve("lmcache.yaml");
        Files.writeString(cfg, "chunk_size: 256\nlocal_cpu: true\nmax_local_cpu_size: 20\n");
        Result r = run("info", "--json", "--config", cfg.toString());
        assertEquals(0, r.status, r.err);
        Map<String, Object> j = r.json();
        assertEquals(20L << 30, ((Number) j.get("pool_bytes")).longValue());
        assertEquals(640L, ((Number) j.get("pool_chunks")).longValue(), "20 GiB of 32 MiB Mistral chunks");
        assertEquals(640L * 256, ((Number) j.get("pool_tokens")).longValue());
    }

    @Test
    void badUsage_exitsTwoWithMessage() {
        Result unknown = run("replay", "--userz", "3");
        assertEquals(2, unknown.status);
        assertTrue(unknown.err.contains("--userz"), unknown.err);
        Result badNumber = run("replay", "--users", "many");
        assertEquals(2, badNumber.status);
        assertTrue(badNumber.err.contains("many"), badNumber.err);
        Result badDtype = run("info", "--dtype", "int3");
        assertEquals(2, badDtype.status);
        assertTrue(badDtype.err.contains("int3"), badDtype.err);
        assertEquals(2, run("frobnicate").status);
        assertEquals(0, run("--help").status);
    }
}
