package org.lmcache4j.bridge;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.charset.StandardCharsets;

/** What a C caller would pass: strings, token and slot arrays in native memory. */
final class NativeArgs implements AutoCloseable {
    private final Arena arena = Arena.ofConfined();

    /** A UTF-8 string, as its address; {@link #len} gives its length. */
    long str(String s) {
        return s == null ? 0 : arena.allocateFrom(s).address();
    }

    static int len(String s) {
        return s == null ? 0 : s.getBytes(StandardCharsets.UTF_8).length;
    }

    long bytes(byte[] b) {
        MemorySegment m = arena.allocate(b.length + 1L);
        MemorySegment.copy(b, 0, m, ValueLayout.JAVA_BYTE, 0, b.length);
        return m.address();
    }

    long ints(int[] v) {
        return arena.allocateFrom(ValueLayout.JAVA_INT, v).address();
    }

    long longs(long[] v) {
        return arena.allocateFrom(ValueLayout.JAVA_LONG, v).address();
    }

    MemorySegment buffer(long bytes) {
        return arena.allocate(bytes, 8);
    }

    /** The message the last failing call on this thread left. */
    String takeError() {
        MemorySegment buf = arena.allocate(1024);
        NativeBridge.takeError(buf.address(), 1024);
        return buf.getString(0);
    }

    @Override
    public void close() {
        arena.close();
    }
}
