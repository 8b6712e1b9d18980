package org.lmcache4j.disk;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.lmcache4j.DiskStats;
import org.lmcache4j.config.DiskOptions;
import org.lmcache4j.keys.ChunkKey;
import org.lmcache4j.record.PayloadCodec;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.function.BooleanSupplier;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class DiskTierTest {
    private static final byte[] NS = new byte[16];
    private static final DiskOptions OPTIONS = new DiskOptions(true, false, PayloadCodec.Mode.NONE, 2, 0.9, 0.8);
    private static final int[] TOKENS = {1, 2, 3, 4};
    /** A record of one {@link #chunk}: a 4 KiB header and 32 KiB of payload. */
    private static final long RECORD = 36 * 1024;

    @TempDir
    Path dir;

    private static MemorySegment chunk(Arena arena, int fill) {
        MemorySegment s = arena.allocate(32 * 1024, 4096);
        s.fill((byte) fill);
        return s;
    }

    @Test
    void recordBeingRead_isNotDeletedToMakeRoom() throws Exception {
        ChunkKey a = new ChunkKey(1, 1);
        ChunkKey b = new ChunkKey(2, 2);
        try (Arena arena = Arena.ofConfined();
             DiskTier tier = DiskTier.open(dir, 40 * 1024, NS, 2, OPTIONS)) {
            assertTrue(tier.write(a, new ChunkKey(0, 0), TOKENS, chunk(arena, 7)));
            assertTrue(tier.beginRead(a));
            assertFalse(tier.write(b, a, TOKENS, chunk(arena, 8)), "no room while a is read");
            assertEquals(1, tier.stats().writesSkipped());
            MemorySegment out = arena.allocate(32 * 1024, 4096);
            assertTrue(tier.read(a, TOKENS, 0, 4, out));
            assertArrayEquals(chunk(arena, 7).toArray(ValueLayout.JAVA_BYTE), out.toArray(ValueLayout.JAVA_BYTE));
            tier.endRead(a);
            assertTrue(tier.write(b, a, TOKENS, chunk(arena, 8)));
            assertFalse(tier.contains(a, 4));
            assertTrue(tier.contains(b, 4));
            assertFalse(Files.exists(RecordPaths.of(dir, a)));
            assertEquals(1, tier.stats().evictions());
        }
    }

    @Test
    @org.lmcache4j.ProvokesFaults("a record of other tokens")
    void read_otherTokensOrSize_isAMissThatDropsTheRecord() throws Exception {
        ChunkKey a = new ChunkKey(1, 1);
        try (Arena arena = Arena.ofConfined();
             DiskTier tier = DiskTier.open(dir, 1 << 20, NS, 2, OPTIONS)) {
            tier.write(a, new ChunkKey(0, 0), TOKENS, chunk(arena, 7));
            assertTrue(tier.beginRead(a));
            assertFalse(tier.read(a, new int[]{1, 2, 3, 5}, 0, 4, arena.allocate(32 * 1024, 4096)));
            tier.endRead(a);
            assertFalse(tier.contains(a, 4), "a record that failed verification leaves the index");
            assertEquals(1, tier.stats().readFailures());
        }
    }

    @Test
    void contains_checksTokenCount() throws Exception {
        ChunkKey a = new ChunkKey(1, 1);
        try (Arena arena = Arena.ofConfined();
             DiskTier tier = DiskTier.open(dir, 1 << 20, NS, 2, OPTIONS)) {
            tier.write(a, new ChunkKey(0, 0), TOKENS, chunk(arena, 7));
            assertTrue(tier.contains(a, 4));
            assertFalse(tier.contains(a, 3));
        }
    }

    /**
     * The device fills up under the tier (another file takes the room): the write that runs out
     * of space lowers the cap to what the device holds, logged once, evicts the tier's own least
     * recently used record (not the one being read) and goes through; every later write makes its
     * room under the lower cap, without another out-of-space failure.
     */
    @Test
    @org.lmcache4j.ProvokesFaults("a full device")
    void deviceFillsUp_theWriteEvictsOwnOldestRecords_andTheCapFollowsTheDevice() throws Exception {
        ChunkKey[] k = keys(40);
        try (Tmpfs fs = Tmpfs.mount(dir.resolve("fs"), "1m");
             LogCapture log = new LogCapture();
             Arena arena = Arena.ofConfined()) {
            try (DiskTier tier = DiskTier.open(fs.mount.resolve("tier"), 20 * RECORD, NS, 2, OPTIONS)) {
                assertEquals(20 * RECORD, tier.stats().effectiveCapacityBytes(), "the device holds the cap at start");
                for (int i = 1; i <= 10; i++) {
                    assertTrue(tier.write(k[i], k[i - 1], TOKENS, chunk(arena, i)));
                }
                assertTrue(tier.beginRead(k[1]), "the oldest record is being read");
                fs.fillLeaving(RECORD + 4096);
                assertTrue(tier.write(k[11], k[10], TOKENS, chunk(arena, 11)), "one more fits");
                assertTrue(tier.write(k[12], k[11], TOKENS, chunk(arena, 12)), "out of space: room made, retried");
                DiskStats s = tier.stats();
                assertEquals(1, s.noSpaceEvents());
                assertEquals(0, s.writeFailures());
                assertTrue(s.effectiveCapacityBytes() >= 11 * RECORD && s.effectiveCapacityBytes() < 12 * RECORD,
                        "the cap is what the device holds: " + s);
                assertTrue(tier.contains(k[1], 4), "a record being read is never evicted");
                assertFalse(tier.contains(k[2], 4), "the least recently used one went");
                for (int i = 13; i <= 30; i++) {
                    assertTrue(tier.write(k[i], k[i - 1], TOKENS, chunk(arena, i)), "write " + i);
                }
                s = tier.stats();
                assertEquals(1, s.noSpaceEvents(), "the lower cap makes the room: no more out-of-space writes");
                assertEquals(0, s.writeFailures());
                assertTrue(s.usedBytes() <= s.effectiveCapacityBytes(), s.toString());
                assertTrue(tier.contains(k[30], 4) && tier.contains(k[22], 4), "the newest records are kept");
                MemorySegment out = arena.allocate(32 * 1024, 4096);
                assertTrue(tier.read(k[1], TOKENS, 0, 4, out));
                assertArrayEquals(chunk(arena, 1).toArray(ValueLayout.JAVA_BYTE), out.toArray(ValueLayout.JAVA_BYTE));
                tier.endRead(k[1]);
            }
            assertEquals(1, log.lines("the tier's cap is now"), "logged once");
        }
    }

    /**
     * The device turns read-only under the tier: one write fails, then writes are skipped without
     * touching the disk while reads go on; a background probe finds the device writable again.
     */
    @Test
    @org.lmcache4j.ProvokesFaults("a read-only device")
    void readOnlyDevice_writesAreSkippedAtOnce_readsGoOn_andAProbeBringsWritesBack() throws Exception {
        ChunkKey[] k = keys(110);
        try (Tmpfs fs = Tmpfs.mount(dir.resolve("fs"), "1m");
             LogCapture log = new LogCapture();
             Arena arena = Arena.ofConfined()) {
            try (DiskTier tier = DiskTier.open(fs.mount.resolve("tier"), 20 * RECORD, NS, 2, OPTIONS)) {
                assertTrue(tier.write(k[1], k[0], TOKENS, chunk(arena, 1)));
                fs.readOnly();
                try {
                    assertFalse(tier.write(k[2], k[1], TOKENS, chunk(arena, 2)));
                    for (int i = 3; i < 103; i++) {
                        assertFalse(tier.write(k[i], k[i - 1], TOKENS, chunk(arena, i)));
                    }
                    DiskStats s = tier.stats();
                    assertEquals(1, s.writeFailures(), "one write failed; the others were not tried: " + s);
                    assertEquals(100, s.writesSkipped());
                    assertFalse(s.writable());
                    assertTrue(tier.beginRead(k[1]));
                    MemorySegment out = arena.allocate(32 * 1024, 4096);
                    assertTrue(tier.read(k[1], TOKENS, 0, 4, out), "reads go on");
                    assertArrayEquals(chunk(arena, 1).toArray(ValueLayout.JAVA_BYTE), out.toArray(ValueLayout.JAVA_BYTE));
                    tier.endRead(k[1]);
                    Thread.sleep(700); // the first probe, at 0.5 s, fails
                    assertFalse(tier.writable());
                } finally {
                    fs.writable();
                }
                await("a probe to find the device writable", tier::writable);
                assertTrue(tier.write(k[2], k[1], TOKENS, chunk(arena, 2)));
                assertEquals(1, tier.stats().writeFailures());
            }
            assertEquals(1, log.lines("cannot be written"), "logged once when it went");
            assertEquals(1, log.lines("takes writes again"), "and once when it came back");
        }
    }

    /**
     * At start, every temporary file is a dead process's (the tier holds the directory), however
     * young; corrupt and misplaced records are deleted and count nowhere.
     */
    @Test
    @org.lmcache4j.ProvokesFaults("leftovers and corrupt records")
    void start_removesEveryTemporaryFile_andDeletesCorruptRecords() throws Exception {
        ChunkKey[] k = keys(4);
        try (Arena arena = Arena.ofConfined();
             DiskTier tier = DiskTier.open(dir, 1 << 20, NS, 2, OPTIONS)) {
            assertTrue(tier.write(k[1], k[0], TOKENS, chunk(arena, 1)));
        }
        Path good = RecordPaths.of(dir, k[1]);
        Path young = good.resolveSibling(good.getFileName() + RecordIo.TMP_MARK + "1234abcd");
        Files.write(young, new byte[8192]); // as a process killed mid-write a second ago leaves it
        Path corrupt = Files.createDirectories(RecordPaths.of(dir, k[2]).getParent()).resolve(k[2].hex() + ".lmc");
        Files.write(corrupt, new byte[8192]);
        Path misplaced = Files.createDirectories(RecordPaths.of(dir, k[3]).getParent()).resolve(k[3].hex() + ".lmc");
        Files.copy(good, misplaced, StandardCopyOption.REPLACE_EXISTING);
        try (DiskTier tier = DiskTier.open(dir, 1 << 20, NS, 2, OPTIONS)) {
            assertFalse(Files.exists(young), "a temporary file is removed whatever its age");
            assertFalse(Files.exists(corrupt), "a corrupt record is deleted");
            assertFalse(Files.exists(misplaced), "a record where its key's does not belong is deleted");
            assertTrue(Files.exists(good));
            DiskStats s = tier.stats();
            assertEquals(2, s.corruptRecords());
            assertEquals(1, s.records());
            assertEquals(Files.size(good), s.usedBytes());
        }
    }

    /** One directory belongs to one tier: a second is refused until the first closes, and so is a repair. */
    @Test
    @org.lmcache4j.ProvokesFaults("a second tier on a claimed directory")
    void aDirectoryHoldsOneTier_aSecondAndARepairAreRefusedWhileItIsOpen() throws Exception {
        try (DiskTier _ = DiskTier.open(dir, 1 << 20, NS, 2, OPTIONS)) {
            IOException e = assertThrows(IOException.class, () -> DiskTier.open(dir, 1 << 20, NS, 2, OPTIONS));
            assertTrue(e.getMessage().contains("one directory belongs to one engine"), e.getMessage());
            assertThrows(IOException.class, () -> DiskCheck.check(dir, NS, true), "--repair while it is open");
            assertEquals(0, DiskCheck.check(dir, NS, false).corrupt(), "a check without repair only reads");
        }
        try (DiskTier again = DiskTier.open(dir, 1 << 20, NS, 2, OPTIONS)) {
            assertTrue(again.stats().enabled(), "closing lets the directory go");
        }
        assertTrue(DiskCheck.check(dir, NS, true).repaired());
    }

    private static ChunkKey[] keys(int n) {
        ChunkKey[] k = new ChunkKey[n + 1];
        for (int i = 0; i <= n; i++) {
            k[i] = new ChunkKey(0x1000 + i, 0x2000L * (i + 1));
        }
        return k;
    }

    private static void await(String what, BooleanSupplier condition) throws InterruptedException {
        long deadline = System.nanoTime() + 10_000_000_000L;
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("timed out waiting for " + what);
            }
            Thread.sleep(10);
        }
    }
}
