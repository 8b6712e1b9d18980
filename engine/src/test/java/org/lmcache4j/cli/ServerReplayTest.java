package org.lmcache4j.cli;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.lmcache4j.memory.UnixSockets;
import org.lmcache4j.server.ServerProcesses;
import org.yaml.snakeyaml.Yaml;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@code replay --server}: the replay in its own caches against a real {@code lmcache4j server}
 * process; {@code --instances 2} as two client processes sharing the server's pool; the server
 * killed mid-replay (the replay finishes with misses, exit 0) and started again on its disk tier
 * (the replay reconnects and hits from disk).
 */
class ServerReplayTest {
    private static final String[] SMALL_SHAPE = {"--layers", "4", "--kv-heads", "2", "--head-size", "64",
            "--block-size", "16"};
    private static final long TOKEN_BYTES = 4 * 2 * 2 * 64 * 2;

    @TempDir
    Path tmp;

    @Test
    void replay_againstAServer_hitsAndVerifiesEveryByte_andASecondProcessHitsWhatTheFirstStored() throws Exception {
        Path socket = ServerProcesses.privateSocket(tmp);
        Process server = ServerProcesses.start(socket, config(), tmp.resolve("server.log"));
        try {
            MainTest.Result r = MainTest.run(argv("--server", socket.toString(), "--json", "--users", "3",
                    "--rounds", "3"));
            assertEquals(0, r.status(), r.err());
            Map<String, Object> j = r.json();
            for (String key : new String[]{"requests", "requested_tokens", "hit_tokens", "hit_rate", "stored_tokens",
                    "store_gbps", "retrieve_gbps", "verified_bytes", "mismatched_bytes", "evictions",
                    "store_skipped_chunks", "leases_at_end", "pins_at_end", "chunk_size", "pool_bytes",
                    "pool_capacity_chunks", "pool_chunks", "layout", "token_bytes", "store_seconds", "retrieve_seconds",
                    "wall_seconds", "server", "server_pid", "calls_without_server", "reconnects"}) {
                assertTrue(j.containsKey(key), key);
            }
            assertEquals(9L, num(j, "requests"));
            assertTrue(num(j, "hit_tokens") > 0, "later rounds hit the earlier ones' chunks");
            assertEquals(num(j, "hit_tokens") * TOKEN_BYTES, num(j, "verified_bytes"), "every loaded byte checked");
            assertEquals(0L, num(j, "mismatched_bytes"));
            assertEquals(0L, num(j, "leases_at_end"));
            assertEquals(0L, num(j, "pins_at_end"));
            assertEquals(16L, num(j, "chunk_size"), "the server's configuration rules");
            assertEquals(server.pid(), num(j, "server_pid"));
            assertEquals(0L, num(j, "calls_without_server"));

            // Another workload (seed 2), so that what the second process finds only the first stored.
            MainTest.Result two = MainTest.run(argv("--server", "unix://" + socket, "--json", "--users", "3",
                    "--rounds", "3", "--seed", "2", "--instances", "2"));
            assertEquals(0, two.status(), two.err());
            Map<String, Object> t = two.json();
            List<Map<String, Object>> each = instances(t);
            assertEquals(2, each.size());
            Map<String, Object> first = each.get(0);
            Map<String, Object> second = each.get(1);
            assertNotEquals(first.get("pid"), second.get("pid"), "two client processes");
            assertNotEquals(ProcessHandle.current().pid(), num(first, "pid"));
            assertTrue(num(first, "stored_tokens") > 0);
            assertEquals(0L, num(second, "stored_tokens"), "the first process had stored every prompt of the second");
            assertEquals(1.0, ((Number) second.get("hit_rate")).doubleValue(), "one pool for the node");
            assertTrue(((Number) first.get("hit_rate")).doubleValue() < 1.0);
            assertEquals(18L, num(t, "requests"));
            assertEquals(num(first, "hit_tokens") + num(second, "hit_tokens"), num(t, "hit_tokens"));
            assertEquals(num(t, "hit_tokens") * TOKEN_BYTES, num(t, "verified_bytes"));
            assertEquals(0L, num(t, "mismatched_bytes"));
            assertEquals(0L, num(first, "exit_status"));
            assertEquals(0L, num(t, "pins_at_end"));
            assertTrue(two.err().contains("replay: instance 2 of 2 started (pid " + second.get("pid") + ")"), two.err());
        } finally {
            stop(server);
        }
    }

    @Test
    void serverKilledMidReplay_answersMissesWithoutError_andARestartedServerServesFromItsDisk() throws Exception {
        Path socket = ServerProcesses.privateSocket(tmp);
        Path disk = tmp.resolve("disk");
        Process first = ServerProcesses.start(socket, config(), tmp.resolve("first.log"));
        Process second = null;
        Path replayErr = tmp.resolve("replay.err");
        Process replay = new ProcessBuilder(MainTestSupport.concat(new String[]{
                Path.of(System.getProperty("java.home"), "bin", "java").toString(), "--enable-native-access=ALL-UNNAMED",
                "-Xmx256m", "-cp", System.getProperty("java.class.path"), Main.class.getName(), "replay", "--server",
                socket.toString(), "--json", "--trace", repeatingTrace().toString(), "--trace-block-tokens", "64",
                "--time-scale", "1"}, SMALL_SHAPE)).redirectError(replayErr.toFile()).start();
        try {
            awaitRecords(disk, 16);
            first.destroyForcibly(); // SIGKILL: no goodbye, the socket file stays behind
            assertTrue(first.waitFor(30, TimeUnit.SECONDS));
            Thread.sleep(1500); // the replay goes on meanwhile, without the server
            second = ServerProcesses.start(socket, config(), tmp.resolve("second.log"));
            String out = new String(replay.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            assertTrue(replay.waitFor(120, TimeUnit.SECONDS));
            String err = Files.readString(replayErr);
            assertEquals(0, replay.exitValue(), err);
            @SuppressWarnings("unchecked")
            Map<String, Object> j = (Map<String, Object>) new Yaml().load(out);
            assertEquals(120L, num(j, "requests"), "every request served");
            assertEquals(0L, num(j, "mismatched_bytes"));
            assertTrue(num(j, "calls_without_server") > 0, "requests ran while the server was gone: " + j);
            assertTrue(num(j, "reconnects") >= 1, err);
            assertEquals(second.pid(), num(j, "server_pid"), "it reconnected to the restarted server");
            assertTrue(num(j, "server_disk_hit_tokens") > 0, "the restarted server served from its disk: " + j);
            assertEquals(num(j, "hit_tokens") * TOKEN_BYTES, num(j, "verified_bytes"));
            assertEquals(1, err.split("is gone", -1).length - 1, "the loss is said once: " + err);
            assertTrue(err.contains("reconnected to lmcache4j server"), err);
        } finally {
            replay.destroyForcibly();
            first.destroyForcibly();
            if (second != null) {
                stop(second);
            }
        }
    }

    @Test
    void badServerOptions_areBadUsage_sayingWhatIsWrong() throws Exception {
        Path missing = tmp.resolve("none.sock");
        assertBad("no such file; is lmcache4j server running", "--server", missing.toString());
        Path file = Files.writeString(tmp.resolve("plain"), "x");
        assertBad("is a file, not a socket", "--server", file.toString());
        Path stale = tmp.resolve("stale.sock");
        UnixSockets sockets = UnixSockets.require();
        sockets.close(sockets.listen(stale, 1)); // a socket file nobody listens on, as a killed server leaves it
        assertBad("no lmcache4j server answers there", "--server", stale.toString());
        assertBad("--instances must be at least 1, got 0", "--server", stale.toString(), "--instances", "0");
        assertBad("--cpu-gb configures the engine", "--server", stale.toString(), "--cpu-gb", "1");
        assertBad("--disk-dir configures the engine", "--server", stale.toString(), "--disk-dir", tmp.toString());
        assertBad("--device cuda cannot be combined with --server", "--server", stale.toString(), "--device", "cuda");
        assertBad("--server needs the server's socket", "--server", "unix://");
    }

    private static void assertBad(String message, String... options) {
        MainTest.Result r = MainTest.run(argv(MainTestSupport.concat(new String[]{"--users", "1", "--rounds", "1"},
                options)));
        assertEquals(2, r.status(), r.err());
        assertTrue(r.err().contains(message), r.err());
        assertEquals("", r.out());
    }

    /** {@code replay}, the small shape, then {@code options}. */
    private static String[] argv(String... options) {
        return MainTestSupport.concat(MainTestSupport.concat(new String[]{"replay"}, SMALL_SHAPE), options);
    }

    /**
     * The server's settings: 16-token chunks, a small pool, a disk tier under tmp that every store
     * writes through at once (so that a server killed with SIGKILL leaves its chunks there).
     */
    private Path config() throws IOException {
        Path config = tmp.resolve("lmcache.yaml");
        Files.writeString(config, "chunk_size: 16\nmax_local_cpu_size: 0.05\nlocal_disk: \"file://"
                + tmp.resolve("disk") + "/\"\nmax_local_disk_size: 0.05\nextra_config:\n  disk_write_through: true\n");
        return config;
    }

    /** 120 requests 100 ms apart (12 s), cycling through 8 prompts of two 64-token blocks each. */
    private Path repeatingTrace() throws IOException {
        StringBuilder lines = new StringBuilder();
        for (int i = 0; i < 120; i++) {
            lines.append("{\"timestamp\": ").append(i * 100).append(", \"input_length\": 128, \"output_length\": 1,")
                    .append(" \"hash_ids\": [0, ").append(100 + i % 8).append("]}\n");
        }
        return Files.writeString(tmp.resolve("repeating.jsonl"), lines);
    }

    /** Waits until the disk tier holds {@code files} files (the first server wrote chunks through). */
    private static void awaitRecords(Path disk, int files) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (System.nanoTime() < deadline) {
            if (Files.isDirectory(disk)) {
                try (Stream<Path> all = Files.walk(disk)) {
                    if (all.filter(Files::isRegularFile).count() >= files) {
                        return;
                    }
                }
            }
            Thread.sleep(20);
        }
        throw new AssertionError("the server wrote fewer than " + files + " files to its disk tier in 60 s");
    }

    private static void stop(Process server) throws InterruptedException {
        server.destroy(); // SIGTERM
        assertTrue(server.waitFor(60, TimeUnit.SECONDS));
        assertEquals(0, server.exitValue());
    }

    @SuppressWarnings("unchecked")
    private static List<Map<String, Object>> instances(Map<String, Object> j) {
        return (List<Map<String, Object>>) j.get("instances");
    }

    private static long num(Map<String, Object> j, String key) {
        return ((Number) j.get(key)).longValue();
    }
}
