package org.lmcache4j.record;

import org.junit.jupiter.api.Test;
import org.lmcache4j.keys.ChunkKey;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.stream.IntStream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class RecordHeaderTest {
    private static RecordHeader sample(int tokens) {
        byte[] ns = new byte[16];
        ns[3] = 7;
        return new RecordHeader(Codec.LZ4, ns, new ChunkKey(1, 2), new ChunkKey(3, 4),
                IntStream.range(0, tokens).map(i -> i * 31).toArray(), 2, 32768, 1000, 0xCAFE);
    }

    @Test
    void writeThenRead_roundTrips() throws Exception {
        try (Arena arena = Arena.ofConfined()) {
            RecordHeader h = sample(256);
            MemorySegment buf = arena.allocate(h.headerBytes());
            h.writeTo(buf);
            RecordHeader back = RecordHeader.read(buf, buf.byteSize());
            assertEquals(h.key(), back.key());
            assertEquals(h.parent(), back.parent());
            assertArrayEquals(h.tokens(), back.tokens());
            assertArrayEquals(h.namespace(), back.namespace());
            assertEquals(Codec.LZ4, back.codec());
            assertEquals(4096, back.headerBytes());
            assertEquals(4096 + 4096, back.fileBytes());
            assertEquals(0xCAFE, back.payloadCrc());
        }
    }

    @Test
    void longChunk_headerSpansBlocks() {
        assertEquals(8192, RecordHeader.headerBytes(2000));
    }

    @Test
    void anyFlippedByte_isDetected() throws Exception {
        try (Arena arena = Arena.ofConfined()) {
            RecordHeader h = sample(10);
            MemorySegment buf = arena.allocate(h.headerBytes());
            h.writeTo(buf);
            for (long off = 0; off < RecordHeader.FIXED + 40; off++) {
                byte b = buf.get(ValueLayout.JAVA_BYTE, off);
                buf.set(ValueLayout.JAVA_BYTE, off, (byte) (b ^ 0x10));
                long at = off;
                assertThrows(CorruptRecordException.class, () -> RecordHeader.read(buf, buf.byteSize()),
                        () -> "flip at " + at);
                buf.set(ValueLayout.JAVA_BYTE, off, b);
            }
            RecordHeader.read(buf, buf.byteSize());
        }
    }

    @Test
    void shortOrForeignBytes_areCorrupt() throws Exception {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment junk = arena.allocate(4096);
            CorruptRecordException e = assertThrows(CorruptRecordException.class, () -> RecordHeader.read(junk, 4096));
            assertTrue(e.getMessage().contains("magic"), e.getMessage());
            assertThrows(CorruptRecordException.class, () -> RecordHeader.read(junk, 10));
        }
    }
}
