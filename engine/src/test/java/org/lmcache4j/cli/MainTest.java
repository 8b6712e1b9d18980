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
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The command line, run in-process on small shapes. */
class MainTest {
    private static final String[] SMALL_SHAPE = {"--layers", "4", "--kv-heads", "2", "--head-size", "64",
            "--block-size", "16"};

    record Result(int status, String out, String err) {
        @SuppressWarnings("unchecked")
        Map<String, Object> json() {
            return (Map<String, Object>) new Yaml().load(out);
        }
    }

    static Result run(String... argv) {
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

    private static String[] plus(String[] base, String... more) {
        String[] all = java.util.Arrays.copyOf(base, base.length + more.length);
        System.arraycopy(more, 0, all, base.length, more.length);
        return all;
    }

    @Test
    void replay_deviceCuda_withoutADriver_isBadUsage_sayingSo() {
        // This run has no CUDA driver (the cuda-tagged run has the CPU-run one).
        Result r = run(with(SMALL_SHAPE, "replay", "--device", "cuda", "--users", "1", "--rounds", "1"));
        assertEquals(2, r.status);
        assertTrue(r.err.contains("--device cuda needs a CUDA driver"), r.err);
        assertTrue(r.err.contains("LMCACHE4J_CUDA_DRIVER=native/build/cuda-emulator/libcuda.so.1"), r.err);
        Result bad = run(with(SMALL_SHAPE, "replay", "--device", "gpu"));
        assertEquals(2, bad.status);
        assertTrue(bad.err.contains("--device must be cpu, cuda or cuda:N, got 'gpu'"), bad.err);
        Result mode = run(with(SMALL_SHAPE, "replay", "--cuda-transfer", "fast"));
        assertEquals(2, mode.status);
        assertTrue(mode.err.contains("cuda_transfer must be kernel or dma"), mode.err);
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
    void replay_dumpTrace_writesOneLinePerChunkAccess(@TempDir Path dir) throws Exception {
        Path file = dir.resolve("chat.trace");
        Result r = run(with(SMALL_SHAPE, "replay", "--json", "--users", "2", "--rounds", "3", "--cpu-gb", "0.5",
                "--dump-trace", file.toString()));
        assertEquals(0, r.status, r.err);
        java.util.List<String> lines = Files.readAllLines(file);
        assertEquals("# lmcache4j access trace v1", lines.get(0));
        java.util.List<String[]> rows = lines.stream().filter(l -> !l.startsWith("#")).map(l -> l.split(" ")).toList();
        long hitTokens = rows.stream().filter(f -> f[4].equals("retrieve")).mapToLong(f -> Long.parseLong(f[3])).sum();
        assertEquals(((Number) r.json().get("hit_tokens")).longValue(), hitTokens, "retrieve lines are the hits");
        assertEquals(rows.stream().filter(f -> f[4].equals("hit")).count(),
                rows.stream().filter(f -> f[4].equals("retrieve")).count(), "each lookup hit is retrieved");
        long storedTokens = rows.stream().filter(f -> f[4].equals("store")).mapToLong(f -> Long.parseLong(f[3])).sum();
        assertEquals(((Number) r.json().get("stored_tokens")).longValue(), storedTokens);
        String[] first = rows.getFirst();
        assertEquals("user-0-round-0", first[0]);
        assertEquals("0", first[1]);
        assertEquals(32, first[2].length());
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
        // Every series production-stack's LMCache dashboard queries is served, and moves during the run.
        Map<?, ?> before = (Map<?, ?>) r.json().get("metrics_dashboard_before");
        Map<?, ?> after = (Map<?, ?>) r.json().get("metrics_dashboard_after");
        assertEquals(MetricsProbe.DASHBOARD_SERIES, after.keySet().stream().map(String::valueOf).toList(), r.out);
        for (String series : MetricsProbe.DASHBOARD_SERIES) {
            assertEquals(0.0, ((Number) before.get(series)).doubleValue(), series + " before the run: " + r.out);
            assertTrue(((Number) after.get(series)).doubleValue() > 0, series + " after the run: " + r.out);
        }
    }

    @Test
    void replay_metricsPortOutOfRangeOrTaken_isBadUsage_sayingSo() throws Exception {
        String[] tiny = with(SMALL_SHAPE, "replay", "--users", "1", "--rounds", "1", "--cpu-gb", "0.1");
        Result high = run(plus(tiny, "--metrics-port", "70000"));
        assertEquals(2, high.status, high.err);
        assertTrue(high.err.contains("--metrics-port must be at most 65535, got 70000"), high.err);
        try (java.net.ServerSocket taken = new java.net.ServerSocket(0)) {
            Result busy = run(plus(tiny, "--metrics-port", String.valueOf(taken.getLocalPort())));
            assertEquals(2, busy.status, "a port in use is not a wrong byte (exit 1): " + busy.err);
            assertTrue(busy.err.contains("lmcache4j: --metrics-port " + taken.getLocalPort() + ": cannot serve metrics"),
                    busy.err);
            assertFalse(busy.err.contains("Exception"), busy.err);
        }
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
    void replay_diskTier_secondRunHitsFromDiskInItsFirstRound(@TempDir Path dir) throws Exception {
        String[] disk = with(SMALL_SHAPE, "replay", "--json", "--users", "3", "--cpu-gb", "0.004",
                "--disk-dir", dir.toString(), "--disk-gb", "0.5");
        Result first = run(plus(disk, "--rounds", "3"));
        assertEquals(0, first.status, first.err);
        Map<String, Object> j = first.json();
        assertTrue(((Number) j.get("spilled_chunks")).longValue() > 0, first.out);
        assertEquals(0, ((Number) j.get("mismatched_bytes")).longValue());
        for (String key : new String[]{"disk_hit_tokens", "disk_read_gbps", "disk_write_gbps"}) {
            assertTrue(j.containsKey(key), key);
        }
        Result second = run(plus(disk, "--rounds", "1"));
        assertEquals(0, second.status, second.err);
        assertTrue(((Number) second.json().get("disk_hit_tokens")).longValue() > 0, second.out);
        assertEquals(0, ((Number) second.json().get("mismatched_bytes")).longValue());

        String[] check = with(SMALL_SHAPE, "disk", "check", dir.toString(), "--json");
        Result clean = run(check);
        assertEquals(0, clean.status, clean.err);
        long good = ((Number) clean.json().get("good")).longValue();
        assertTrue(good > 0, clean.out);
        Path victim;
        try (var files = Files.walk(dir, 2)) {
            victim = files.filter(p -> p.toString().endsWith(".lmc")).findFirst().orElseThrow();
        }
        byte[] bytes = Files.readAllBytes(victim);
        bytes[bytes.length / 2] ^= 1;
        Files.write(victim, bytes);
        Files.createDirectories(dir.resolve("00"));
        Files.writeString(dir.resolve("00").resolve("left.lmc.tmp-1"), "half a record");
        Result broken = run(check);
        assertEquals(1, broken.status, broken.out);
        assertEquals(1L, ((Number) broken.json().get("corrupt")).longValue());
        assertEquals(1L, ((Number) broken.json().get("temporary")).longValue());
        Result repaired = run(plus(check, "--repair"));
        assertEquals(0, repaired.status);
        assertTrue(Files.notExists(victim));
        Result after = run(check);
        assertEquals(0, after.status);
        assertEquals(good - 1, ((Number) after.json().get("good")).longValue());
        Result foreign = run("disk", "check", dir.toString(), "--json");
        assertEquals(good - 1, ((Number) foreign.json().get("foreign")).longValue(), "another shape's records are foreign");
    }

    @Test
    void replay_twoInstancesOnOneRedis_secondHitsFromRemote() throws Exception {
        String url = org.lmcache4j.remote.RedisServer.shared().url();
        Result r = run(with(SMALL_SHAPE, "replay", "--json", "--users", "3", "--rounds", "2", "--cpu-gb", "0.05",
                "--remote-url", url, "--instances", "2", "--seed", Long.toString(System.nanoTime() % 100000)));
        assertEquals(0, r.status, r.err);
        Map<String, Object> j = r.json();
        assertEquals(0, ((Number) j.get("mismatched_bytes")).longValue());
        assertTrue(((Number) j.get("remote_hit_tokens")).longValue() > 0, r.out);
        @SuppressWarnings("unchecked")
        java.util.List<Map<String, Object>> instances = (java.util.List<Map<String, Object>>) j.get("instances");
        assertEquals(2, instances.size());
        assertEquals(0L, ((Number) instances.get(0).get("remote_hit_tokens")).longValue(),
                "the first instance finds nothing in Redis (a fresh seed)");
        long secondRemote = ((Number) instances.get(1).get("remote_hit_tokens")).longValue();
        long firstHits = ((Number) instances.get(0).get("hit_tokens")).longValue();
        long secondHits = ((Number) instances.get(1).get("hit_tokens")).longValue();
        assertTrue(secondRemote > 0, "the second, cold instance hits from Redis: " + r.out);
        assertTrue(secondHits > firstHits, "and so hits more than the first: " + r.out);
    }

    @Test
    void replay_reportsThePoolAsTheRunLeftIt_notAfterClose() {
        Result r = run(with(SMALL_SHAPE, "replay", "--json", "--users", "3", "--rounds", "2", "--cpu-gb", "0.5"));
        assertEquals(0, r.status, r.err);
        Map<String, Object> j = r.json();
        long chunks = ((Number) j.get("pool_chunks")).longValue();
        assertTrue(chunks > 0, r.out);
        assertEquals(chunks * 256 * 4 * 2 * 2 * 64 * 2, ((Number) j.get("pool_used_bytes")).longValue(), r.out);
        assertEquals(1024L, ((Number) j.get("pool_capacity_chunks")).longValue(), "0.5 GiB of 512 KiB chunks");
        Result text = run(with(SMALL_SHAPE, "replay", "--users", "3", "--rounds", "2", "--cpu-gb", "0.5"));
        assertTrue(text.out.contains("pool              " + Units.size(chunks * 512 * 1024) + " in use, " + chunks
                + " of 1024 chunks"), text.out);
    }

    @Test
    void replay_poolSmallerThanAPrompt_saysWhyStoresSkipped_notPinned() {
        // 4 pages of 512 KiB; a prompt of 1000 + 400 tokens is 6 chunks.
        Result r = run(with(SMALL_SHAPE, "replay", "--users", "2", "--rounds", "2", "--cpu-gb", "0.002"));
        assertEquals(0, r.status, r.err);
        assertFalse(r.out.contains("pinned chunks"), r.out);
        assertTrue(r.out.contains("because a prompt's new chunks were more than the pool's 4 pages"), r.out);
        Result j = run(with(SMALL_SHAPE, "replay", "--json", "--users", "2", "--rounds", "2", "--cpu-gb", "0.002"));
        long skipped = ((Number) j.json().get("store_skipped_chunks")).longValue();
        assertTrue(skipped > 0, j.out);
        assertEquals(skipped, ((Number) j.json().get("store_skipped_prompt_over_pool")).longValue(), j.out);
        assertEquals(0L, ((Number) j.json().get("store_skipped_pages_held")).longValue(), j.out);
    }

    @Test
    void replay_summary_printsBinaryUnitsOnly() {
        Result r = run(with(SMALL_SHAPE, "replay", "--users", "2", "--rounds", "2", "--cpu-gb", "0.5"));
        assertEquals(0, r.status, r.err);
        assertFalse(r.out.contains(" GB"), "no decimal GB, nor GB/s: " + r.out);
        assertTrue(r.out.contains("CPU pool 512.00 MiB"), r.out);
        assertTrue(r.out.matches("(?s).*store +[0-9.]+ MiB in [0-9.]+ s = [0-9.]+ GiB/s.*"), r.out);
    }

    @Test
    void poolThatCannotHoldAChunk_isRefusedAlike_byInfoAndReplay_namingKeyAndSource(@TempDir Path dir)
            throws Exception {
        Path huge = dir.resolve("huge.yaml");
        Files.writeString(huge, "max_local_cpu_size: 1e12\n");
        Path bigChunks = dir.resolve("chunks.yaml");
        Files.writeString(bigChunks, "chunk_size: 1000000\n");
        String[][] cases = {
            {"--config", huge.toString()},
            {"--config", bigChunks.toString()},
            {"--cpu-gb", "0.0001"},
            {"--cpu-gb", "1e12"},
        };
        String[][] mustSay = {
            {"max_local_cpu_size must be less than 8589934591 GB, got 1000000000000 (from " + huge + ")"},
            {"smaller than one chunk", "chunk_size 1000000", "(max_local_cpu_size at its default; chunk_size from "
                    + bigChunks + ")"},
            {"max_local_cpu_size 0.0001 GB", "smaller than one chunk", "(max_local_cpu_size from --cpu-gb;"
                    + " chunk_size at its default)"},
            {"max_local_cpu_size must be less than 8589934591 GB", "(from --cpu-gb)"},
        };
        for (int i = 0; i < cases.length; i++) {
            Result info = run(plus(new String[] {"info"}, cases[i]));
            Result replay = run(plus(new String[] {"replay", "--users", "1", "--rounds", "1"}, cases[i]));
            assertEquals(2, info.status, info.out);
            assertEquals(2, replay.status, replay.out);
            for (String part : mustSay[i]) {
                assertTrue(info.err.contains(part), "'" + part + "' missing from: " + info.err);
            }
            String infoError = info.err.lines().filter(l -> l.startsWith("lmcache4j: ")).findFirst().orElseThrow();
            assertTrue(replay.err.contains(infoError), "replay refuses as info does: " + replay.err);
        }
    }

    @Test
    void unknownOption_isUnknown_withTheClosestKnownOneSuggested() {
        Result bogus = run("replay", "--bogus");
        assertEquals(2, bogus.status);
        assertTrue(bogus.err.contains("unknown option --bogus"), bogus.err);
        assertFalse(bogus.err.contains("needs a value"), bogus.err);
        assertTrue(bogus.err.contains("lmcache4j replay --help"), bogus.err);
        Result jsn = run("replay", "--jsn");
        assertEquals(2, jsn.status);
        assertTrue(jsn.err.contains("unknown option --jsn (did you mean --json?)"), jsn.err);
        Result userz = run("replay", "--userz", "3");
        assertTrue(userz.err.contains("unknown option --userz (did you mean --users?)"), userz.err);
        Result disk = run("replay", "--disk", "/tmp/x");
        assertTrue(disk.err.contains("unknown option --disk (did you mean --disk-dir or --disk-gb?)"), disk.err);
        Result infoJsn = run("info", "--jsno");
        assertTrue(infoJsn.err.contains("unknown option --jsno (did you mean --json?)"), infoJsn.err);
        Result noValue = run("replay", "--users", "--json");
        assertEquals(2, noValue.status);
        assertTrue(noValue.err.contains("--users needs a value"), noValue.err);
        Result last = run("replay", "--users");
        assertTrue(last.err.contains("--users needs a value"), last.err);
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
        assertEquals(2, run("replay", "--disk-dir", "/tmp/x").status, "a disk tier needs a size");
        assertEquals(2, run("disk", "check").status);
        assertEquals(2, run("replay", "--instances", "2").status, "instances share through a remote tier");
        Result lm = run("replay", "--remote-url", "lm://cache-server:8080");
        assertEquals(2, lm.status);
        assertTrue(lm.err.contains("remote_url") && lm.err.contains("lm"), lm.err);
        assertEquals(0, run("--help").status);
    }
}
