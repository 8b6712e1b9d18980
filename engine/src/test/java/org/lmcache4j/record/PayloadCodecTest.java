package org.lmcache4j.record;

import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class PayloadCodecTest {
    private static final PayloadCodec LZ4 = new PayloadCodec(PayloadCodec.Mode.LZ4);

    /** bf16-like values: random low bytes, high bytes nearly constant. The shuffle makes the exponent bytes compress. */
    private static MemorySegment bf16Like(Arena arena, int elements, long seed) {
        Random rnd = new Random(seed);
        MemorySegment s = arena.allocate(elements * 2L);
        for (int i = 0; i < elements; i++) {
            s.set(ValueLayout.JAVA_BYTE, 2L * i, (byte) rnd.nextInt(256));
            s.set(ValueLayout.JAVA_BYTE, 2L * i + 1, (byte) (rnd.nextInt(16) == 0 ? 0x3E : 0x3F));
        }
        return s;
    }

    private static void roundTrip(PayloadCodec codec, MemorySegment chunk, int elementBytes, Codec expected)
            throws CorruptRecordException {
        PayloadCodec.Encoded e = codec.encode(chunk, elementBytes);
        assertEquals(expected, e.codec());
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment payload = arena.allocate(e.payload().byteSize());
            MemorySegment.copy(e.payload(), 0, payload, 0, payload.byteSize());
            MemorySegment out = arena.allocate(chunk.byteSize());
            codec.decode(e.codec(), payload, out);
            assertArrayEquals(chunk.toArray(ValueLayout.JAVA_BYTE), out.toArray(ValueLayout.JAVA_BYTE));
        }
    }

    @Test
    void compressible16Bit_isShuffledAndCompressed() throws Exception {
        try (Arena arena = Arena.ofConfined()) {
            roundTrip(LZ4, bf16Like(arena, 100_000, 1), 2, Codec.LZ4_SHUFFLE16);
        }
    }

    @Test
    void zeros_compressWithoutShuffleFor32Bit() throws Exception {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment zeros = arena.allocate(200_000);
            roundTrip(LZ4, zeros, 4, Codec.LZ4);
        }
    }

    @Test
    void randomBytes_areStoredRaw() throws Exception {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment s = arena.allocate(300_001);
            Random rnd = new Random(2);
            for (long i = 0; i < s.byteSize(); i++) {
                s.set(ValueLayout.JAVA_BYTE, i, (byte) rnd.nextInt());
            }
            roundTrip(LZ4, s, 2, Codec.RAW);
            roundTrip(new PayloadCodec(PayloadCodec.Mode.NONE), bf16Like(arena, 1000, 3), 2, Codec.RAW);
        }
    }

    @Test
    void shuffle_oddLength_roundTrips() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment in = arena.allocate(7);
            for (int i = 0; i < 7; i++) {
                in.set(ValueLayout.JAVA_BYTE, i, (byte) (i + 1));
            }
            MemorySegment mid = arena.allocate(7);
            MemorySegment out = arena.allocate(7);
            PayloadCodec.shuffle16(in, mid);
            assertArrayEquals(new byte[]{1, 3, 5, 2, 4, 6, 7}, mid.toArray(ValueLayout.JAVA_BYTE));
            PayloadCodec.unshuffle16(mid, out);
            assertArrayEquals(in.toArray(ValueLayout.JAVA_BYTE), out.toArray(ValueLayout.JAVA_BYTE));
        }
    }

    @Test
    void garbagePayload_isCorrupt() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment garbage = arena.allocate(100);
            garbage.fill((byte) 0x7F);
            MemorySegment out = arena.allocate(5000);
            assertThrows(CorruptRecordException.class, () -> LZ4.decode(Codec.LZ4, garbage, out));
            assertThrows(CorruptRecordException.class, () -> LZ4.decode(Codec.RAW, garbage, out));
        }
    }

    @Test
    void modes_parse() {
        assertEquals(PayloadCodec.Mode.LZ4, PayloadCodec.Mode.parse("LZ4"));
        assertEquals(PayloadCodec.Mode.NONE, PayloadCodec.Mode.parse("none"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> PayloadCodec.Mode.parse("zstd"))
                .getMessage().contains("zstd"));
    }
}
