package org.lmcache4j.bridge;

import org.lmcache4j.KvEvent;
import org.lmcache4j.keys.ChunkKey;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.List;

/**
 * The byte form of {@link KvEvent}s that {@code lmcache4j_take_kv_events} writes: records one after
 * another, each a 40-byte header and, for a stored chunk, its token ids. Integers are little-endian;
 * keys are their 16 bytes as {@link ChunkKey#hex()} spells them.
 *
 * <pre>
 *  0       1       2       4       8                       24                      40
 *  +-------+-------+-------+-------+-----------------------+-----------------------+---------------+
 *  | kind  | flags | 0     | n u32 | key (16 bytes)        | parent (16 bytes)     | n x int32     |
 *  +-------+-------+-------+-------+-----------------------+-----------------------+---------------+
 *  kind   1 stored, 2 removed, 3 all cleared, 4 lost (events dropped here: n of them, saturated)
 *  flags  bit 0: the parent is set (a stored chunk that is not its prompt's first)
 *  n      stored: the chunk's token count, its token ids follow; lost: the count; else 0
 *  key    zero for cleared and lost
 * </pre>
 */
public final class KvEventRecords {
    public static final int HEADER_BYTES = 40;
    private static final ValueLayout.OfInt U32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfLong KEY_HALF = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.BIG_ENDIAN);

    private KvEventRecords() {
    }

    /** The bytes one event's record takes. */
    public static long bytes(KvEvent e) {
        return HEADER_BYTES + (long) Integer.BYTES * e.tokens().length;
    }

    /** Writes the events' records one after another from the start of {@code out}; returns the bytes written. */
    public static long write(List<KvEvent> events, MemorySegment out) {
        long at = 0;
        for (KvEvent e : events) {
            MemorySegment r = out.asSlice(at, bytes(e));
            r.fill((byte) 0);
            r.set(ValueLayout.JAVA_BYTE, 0, (byte) e.kind().code);
            r.set(ValueLayout.JAVA_BYTE, 1, (byte) (e.parent() != null ? 1 : 0));
            long n = e.kind() == KvEvent.Kind.LOST ? Math.min(e.lost(), 0xFFFF_FFFFL) : e.tokens().length;
            r.set(U32, 4, (int) n);
            key(r, 8, e.key());
            key(r, 24, e.parent());
            MemorySegment.copy(e.tokens(), 0, r, U32, HEADER_BYTES, e.tokens().length);
            at += r.byteSize();
        }
        return at;
    }

    private static void key(MemorySegment r, long offset, ChunkKey k) {
        if (k != null) {
            r.set(KEY_HALF, offset, k.hi());
            r.set(KEY_HALF, offset + 8, k.lo());
        }
    }
}
