package org.lmcache4j.disk;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.lmcache4j.config.DiskOptions;
import org.lmcache4j.keys.ChunkKey;
import org.lmcache4j.record.PayloadCodec;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

class DiskTierTest {
    private static final byte[] NS = new byte[16];
    private static final DiskOptions OPTIONS = new DiskOptions(true, false, PayloadCodec.Mode.NONE, 2, 0.9, 0.8);
    private static final int[] TOKENS = {1, 2, 3, 4};

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
}
