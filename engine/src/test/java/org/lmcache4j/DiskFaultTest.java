package org.lmcache4j;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.lmcache4j.config.DiskOptions;
import org.lmcache4j.disk.DiskTier;
import org.lmcache4j.disk.LogCapture;
import org.lmcache4j.disk.Tmpfs;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** A process killed while spilling, a device smaller than the cap, and one that turns read-only. */
@org.lmcache4j.ProvokesFaults("disk faults (full, read-only, killed mid-spill)")
class DiskFaultTest {
    @TempDir
    Path dir;

    @Test
    void sigkillMidSpill_onlyCompleteRecordsAreServed() throws Exception {
        Path java = Path.of(System.getProperty("java.home"), "bin", "java");
        Process child = new ProcessBuilder(java.toString(), "--enable-native-access=ALL-UNNAMED", "-Xmx256m",
                "-Djava.io.tmpdir=" + System.getProperty("java.io.tmpdir"), "-cp", System.getProperty("java.class.path"), DiskKillChild.class.getName(), dir.toString())
                .redirectError(ProcessBuilder.Redirect.DISCARD).start();
        int stored = 0;
        try (BufferedReader out = new BufferedReader(new InputStreamReader(child.getInputStream(), StandardCharsets.UTF_8))) {
            // Let it write a good number of records, then kill it mid-stride: SIGKILL, no shutdown hook.
            for (String line; stored < 40 && (line = out.readLine()) != null; ) {
                if (line.startsWith("stored ")) {
                    stored++;
                }
            }
            // Frozen mid-stride (SIGSTOP: it still holds everything), the directory is its own: another tier is
            // refused, naming the process.
            assertEquals(0, new ProcessBuilder("kill", "-STOP", Long.toString(child.pid())).start().waitFor());
            IOException taken = assertThrows(IOException.class, () -> DiskTier.open(dir, 1 << 30, new byte[16], 2,
                    DiskOptions.from(EngineFixture.poolOfChunks(4))));
            assertTrue(taken.getMessage().contains("process " + child.pid()), taken.getMessage());
            child.destroyForcibly();
            child.waitFor();
        }
        assertEquals(40, stored, "the child stopped early");
        assertEquals(137, child.exitValue(), "killed by SIGKILL");

        // The restart comes at once. The dead child's claim went with it, so every temporary file is a leftover,
        // however young: the ones the kill left (if it hit a write) and one planted as a kill would leave it.
        Path sub;
        try (Stream<Path> s = Files.list(dir)) {
            sub = s.filter(Files::isDirectory).findFirst().orElseThrow();
        }
        Files.write(sub.resolve("0123456789abcdef0123456789abcdef.lmc.tmp-5eed"), new byte[4096]);
        EngineConfig cfg = DiskTierEngineTest.config(dir, 64, 4096, Map.of());
        try (EngineFixture f = new EngineFixture(cfg)) {
            assertTrue(f.engine.stats().disk().enabled(), "the killed process's claim is gone");
            assertEquals(0, countTemporary(dir), "temporary files are removed at start-up, whatever their age");
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
     * The tester's case in small: a disk tier capped at 1000 chunks on a 256 KiB tmpfs (six or
     * seven records). The tier fits its cap to the device, so its own eviction makes room: no
     * write fails, and the newest chunks, written at close, are what the next engine finds.
     */
    @Test
    void deviceSmallerThanTheCap_theTierFitsItsCap_andTheNextEngineFindsTheNewestChunks() throws Exception {
        try (Tmpfs fs = Tmpfs.mount(dir.resolve("small-fs"), "256k"); LogCapture log = new LogCapture()) {
            EngineConfig cfg = DiskTierEngineTest.config(fs.mount, 16, 1000, Map.of());
            List<int[]> prompts = new ArrayList<>();
            EngineFixture f = new EngineFixture(cfg);
            try {
                Random rnd = new Random(5);
                for (int i = 0; i < 20; i++) {
                    prompts.add(TestCaches.randomTokens(512, rnd));
                    assertEquals(512, f.engine.store(prompts.get(i), TestCaches.randomSlots(f.caches.layout, 512, rnd), 0));
                    // 16 pages: the spiller keeps usage at or under the low watermark (12), two chunks a prompt.
                    DiskTierEngineTest.await("spilling to the low watermark", () -> f.engine.stats().pagesInUse() <= 13);
                }
                DiskTierEngineTest.await("writes in flight to settle", () -> f.engine.stats().leases() == 0);
                DiskStats d = f.engine.stats().disk();
                assertEquals(0, d.writeFailures(), d.toString());
                assertTrue(d.writes() > 0, d.toString());
                assertTrue(d.effectiveCapacityBytes() <= 256 << 10, "the cap in effect is what the device holds: " + d);
                assertTrue(d.usedBytes() <= d.effectiveCapacityBytes(), d.toString());
                assertTrue(d.evictions() > 0, "the tier's own records made the room");
                for (int i = 12; i < 20; i++) {
                    assertEquals(512, f.engine.lookup(prompts.get(i)), "served from memory or disk");
                }
                assertEquals(0, f.engine.stats().leases());
                assertEquals(0, f.engine.stats().pins());
            } finally {
                f.engine.close(); // graceful: writes the pool's chunks, oldest first, evicting the tier's oldest records
                f.caches.close();
            }
            assertEquals(0, f.engine.stats().disk().writeFailures(), "nor at close");
            assertEquals(1, log.lines("the tier's cap is now"), "logged once");
            assertEquals(0, countTemporary(fs.mount), "no temporary files are left");
            try (EngineFixture next = new EngineFixture(cfg)) {
                assertEquals(512, next.engine.lookup(prompts.get(19)), "the newest prompt is on disk");
                assertEquals(0, next.engine.lookup(prompts.get(0)), "the oldest made room");
                assertEquals(0, next.engine.stats().disk().writeFailures());
            }
        }
    }

    /**
     * The tester's other case: the device is remounted read-only under a spilling engine. One batch
     * of writes fails, then the spiller offers nothing while reads and stores go on; once the device
     * is writable again, a probe notices and spilling resumes.
     */
    @Test
    void deviceTurnsReadOnly_spillingStopsAtOnce_andResumesWhenItIsWritable() throws Exception {
        try (Tmpfs fs = Tmpfs.mount(dir.resolve("ro-fs"), "4m"); LogCapture log = new LogCapture()) {
            EngineConfig cfg = DiskTierEngineTest.config(fs.mount, 16, 64, Map.of());
            try (EngineFixture f = new EngineFixture(cfg)) {
                Random rnd = new Random(9);
                List<int[]> prompts = new ArrayList<>();
                List<long[]> slots = new ArrayList<>();
                for (int i = 0; i < 40; i++) {
                    prompts.add(TestCaches.randomTokens(512, rnd));
                    slots.add(TestCaches.randomSlots(f.caches.layout, 512, rnd));
                }
                for (int i = 0; i < 10; i++) {
                    f.engine.store(prompts.get(i), slots.get(i), 0);
                    DiskTierEngineTest.await("spilling", () -> f.engine.stats().pagesInUse() <= 13);
                }
                long spilled = f.engine.stats().spilledChunks();
                assertTrue(spilled > 0);
                fs.readOnly();
                try {
                    for (int i = 10; i < 40; i++) {
                        assertEquals(512, f.engine.store(prompts.get(i), slots.get(i), 0), "stores go on");
                        Thread.sleep(10);
                    }
                    DiskTierEngineTest.await("the tier to notice", () -> !f.engine.stats().disk().writable());
                    Thread.sleep(300); // as long again as the stores took: a retry loop would fail ~15 batches
                    DiskStats d = f.engine.stats().disk();
                    assertTrue(d.writeFailures() >= 1 && d.writeFailures() <= 4, "one batch fails, no more: " + d);
                    assertEquals(512, f.engine.lookup(prompts.get(39)), "served from memory");
                    assertEquals(512, f.engine.lookup(prompts.get(0)), "and from the read-only disk");
                    f.caches.zero();
                    assertEquals(512, f.engine.retrieve(prompts.get(0), slots.get(0), 0));
                } finally {
                    fs.writable();
                }
                DiskTierEngineTest.await("a probe to find it writable", () -> f.engine.stats().disk().writable());
                f.engine.store(prompts.get(10), slots.get(10), 0);
                DiskTierEngineTest.await("spilling again", () -> f.engine.stats().spilledChunks() > spilled);
            }
            assertEquals(1, log.lines("cannot be written"), "logged once when it went");
            assertEquals(1, log.lines("takes writes again"), "and once when it came back");
        }
    }
}
