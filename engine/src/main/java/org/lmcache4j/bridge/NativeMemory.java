package org.lmcache4j.bridge;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;

/**
 * Reads the C caller's arguments from native memory and writes results back, with one bulk copy
 * per array: the only place in the bridge that turns addresses into segments.
 *
 * <p>The addresses come from the caller, who guarantees that {@code n} elements are readable there
 * for the duration of the call (the C ABI's contract); this class checks what it can (null, negative
 * or absurd lengths) and copies everything it reads into Java arrays before the engine sees it.
 */
final class NativeMemory {
    /** Longest string argument accepted: a salt, adapter, request id, path or settings text. */
    static final int MAX_TEXT_BYTES = 1 << 20;

    private NativeMemory() {
    }

    /** {@code n} int32 values at {@code address}, in native byte order. */
    static int[] ints(long address, int n, String what) {
        requireArray(address, n, what);
        int[] out = new int[n];
        if (n > 0) {
            MemorySegment.copy(segment(address, (long) n * Integer.BYTES), ValueLayout.JAVA_INT, 0, out, 0, n);
        }
        return out;
    }

    /** {@code n} int64 values at {@code address}, in native byte order. */
    static long[] longs(long address, int n, String what) {
        requireArray(address, n, what);
        long[] out = new long[n];
        if (n > 0) {
            MemorySegment.copy(segment(address, (long) n * Long.BYTES), ValueLayout.JAVA_LONG, 0, out, 0, n);
        }
        return out;
    }

    /** Writes {@code values} as int64 at {@code address}. */
    static void writeLongs(long address, long[] values, int n) {
        MemorySegment.copy(values, 0, segment(address, (long) n * Long.BYTES), ValueLayout.JAVA_LONG, 0, n);
    }

    /**
     * A UTF-8 string of {@code length} bytes at {@code address}; null when the address is 0 (the C
     * side passes NULL). Malformed UTF-8 is refused rather than replaced, since two different salts
     * must never decode to the same key material.
     */
    static String text(long address, int length, String what) {
        if (address == 0) {
            return null;
        }
        if (length < 0 || length > MAX_TEXT_BYTES) {
            throw new IllegalArgumentException(what + " is " + length + " bytes long (at most " + MAX_TEXT_BYTES + ")");
        }
        byte[] bytes = length == 0 ? new byte[0] : segment(address, length).toArray(ValueLayout.JAVA_BYTE);
        try {
            return StandardCharsets.UTF_8.newDecoder()
                    .onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT)
                    .decode(ByteBuffer.wrap(bytes)).toString();
        } catch (CharacterCodingException e) {
            throw new IllegalArgumentException(what + " is not valid UTF-8", e);
        }
    }

    /**
     * Copies {@code text} as UTF-8 with a terminating NUL into {@code capacity} bytes at
     * {@code address}, cut at a character boundary if it does not fit; returns the bytes written
     * before the NUL.
     */
    static int writeText(String text, long address, int capacity) {
        if (address == 0 || capacity <= 0) {
            return 0;
        }
        byte[] bytes = text.getBytes(StandardCharsets.UTF_8);
        int n = Math.min(bytes.length, capacity - 1);
        while (n > 0 && n < bytes.length && (bytes[n] & 0xC0) == 0x80) {
            n--; // do not end inside a multi-byte character
        }
        MemorySegment out = segment(address, capacity);
        MemorySegment.copy(bytes, 0, out, ValueLayout.JAVA_BYTE, 0, n);
        out.set(ValueLayout.JAVA_BYTE, n, (byte) 0);
        return n;
    }

    /** {@code capacity} writable bytes at {@code address}, which the caller guarantees. */
    static MemorySegment output(long address, long capacity, String what) {
        if (capacity < 0 || (address == 0 && capacity > 0)) {
            throw new IllegalArgumentException(what + ": " + capacity + " bytes at " + (address == 0 ? "NULL" : "an address"));
        }
        return address == 0 ? MemorySegment.NULL : segment(address, capacity);
    }

    private static void requireArray(long address, int n, String what) {
        if (n < 0) {
            throw new IllegalArgumentException(what + ": negative length " + n);
        }
        if (address == 0 && n > 0) {
            throw new IllegalArgumentException(what + " is NULL but holds " + n + " elements");
        }
    }

    private static MemorySegment segment(long address, long bytes) {
        return MemorySegment.ofAddress(address).reinterpret(bytes);
    }
}
