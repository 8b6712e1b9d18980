package org.lmcache4j;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** A process killed while spilling, and a disk that fills up. */
class DiskFaultTest {
    @TempDir
    Path dir;

    @Test
    void sigkillMidSpill_onlyCompleteRecordsAreServed() throws Exception {
        Path java = Path.of(System.getProperty("java.home"), "bin", "java");
        Process child = new ProcessBuilder(java.toString(), "--enable-native-access=ALL-UNNAMED", "-Xmx256m",
                "-cp", System.getProperty("java.class.path"), DiskKillChild.class.getName(), dir.toString())
                .redirectError(ProcessBuilder.Redirect.DISCARD).start();
        int stored = 0;
        try (BufferedReader out = new BufferedReader(new InputStreamReader(child.getInputStream(), StandardCharsets.UTF_8))) {
            // Let it write a good number of records, then kill it mid-stride: SIGKILL, no shutdown hook.
            for (String line; stored < 40 && (line = out.readLine()) != null; ) {
                if (line.startsWith("stored ")) {
                    stored++;
                }
            }
            child.destroyForcibly();
            child.waitFor();
        }
        assertEquals(40, stored, "the child stopped early");
        assertEquals(137, child.exitValue(), "killed by SIGKILL");

        // The restart comes later: temporary files older than a minute are a crash's leftovers (younger
        // ones could be another engine's writes in progress, and are left alone).
        try (Stream<Path> s = Files.walk(dir, 2)) {
            for (Path p : s.filter(p -> p.getFileName().toString().contains(".tmp-")).toList()) {
                Files.setLastModifiedTime(p, FileTime.fromMillis(System.currentTimeMillis() - 120_000));
            }
        }
        EngineConfig cfg = DiskTierEngineTest.config(dir, 64, 4096, Map.of());
        try (EngineFixture f = new EngineFixture(cfg)) {
            assertTrue(countTemporary(dir) == 0, "temporary files are removed at start-up");
            long records = f.engine.stats().disk().records();
            assertTrue(records > 0, "complete records survive");
            assertEquals(0, f.engine.stats().disk().corruptRecords());
            // Replay the child's prompts: whatever loads must be exactly the KV the child stored.
            TestCaches expected = new TestCaches(EngineFixture.LAYOUT);
            expected.fillRandom(DiskKillChild.SEED);
            Random rnd = new Random(DiskKillChild.SEED);
            long loaded = 0;
            for (int i = 0; i < stored + 5; i++) {
                int[] tokens = TestCaches.randomTokens(DiskKillChild.PROMPT_TOKENS, rnd);
                long[] slots = TestCaches.randomSlots(EngineFixture.LAYOUT, DiskKillChild.PROMPT_TOKENS, rnd);
                f.caches.zero();
                int n = f.engine.retrieve(tokens, slots, 0);
                assertArrayEquals(expected.rows(slots, 0, n), f.caches.rows(slots, 0, n), "prompt " + i);
                loaded += n;
                f.engine.clear();
            }
            expected.close();
            assertTrue(loaded >= 256L * records / 2, "most records load: " + loaded + " tokens from " + records);
            assertEquals(0, f.engine.stats().disk().readFailures());
        }
    }

    private static long countTemporary(Path dir) throws IOException {
        try (Stream<Path> s = Files.walk(dir, 2)) {
            return s.filter(p -> p.getFileName().toString().contains(".tmp-")).count();
        }
    }

    /**
     * A file system that fills up: a 256 KiB tmpfs (seven records), mounted for the test (the tests run as root, as
     * CI does). Writes fail, are counted and logged once, and the engine keeps serving from memory.
     */
    @Test
    void fullDisk_writesFailAndTheEngineKeepsServing() throws Exception {
        Path mount = Files.createDirectories(dir.resolve("small-fs"));
        Process m = new ProcessBuilder("mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", mount.toString())
                .redirectErrorStream(true).start();
        String why = new String(m.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertEquals(0, m.waitFor(), "this test mounts a small tmpfs and needs root: " + why);
        try {
            EngineConfig cfg = DiskTierEngineTest.config(mount, 64, 1000, Map.of("disk_write_through", true));
            try (EngineFixture f = new EngineFixture(cfg)) {
                Random rnd = new Random(5);
                List<int[]> prompts = new ArrayList<>();
                List<long[]> slots = new ArrayList<>();
                for (int i = 0; i < 20; i++) {
                    prompts.add(TestCaches.randomTokens(512, rnd));
                    slots.add(TestCaches.randomSlots(f.caches.layout, 512, rnd));
                    assertEquals(512, f.engine.store(prompts.get(i), slots.get(i), 0));
                }
                DiskTierEngineTest.await("write failures", () -> f.engine.stats().disk().writeFailures() > 0);
                DiskTierEngineTest.await("writes in flight to settle", () -> f.engine.stats().leases() == 0);
                for (int i = 0; i < 20; i++) {
                    assertEquals(512, f.engine.lookup(prompts.get(i)), "still served from memory");
                }
                assertTrue(f.engine.stats().disk().usedBytes() <= 256 << 10);
                assertEquals(0, countTemporary(mount), "failed writes leave no temporary files");
            }
        } finally {
            new ProcessBuilder("umount", mount.toString()).start().waitFor();
        }
    }
}
