package org.lmcache4j.server;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;

/**
 * Builds one message ({@link WireProtocol}): its header, then fields appended in order; {@link #bytes}
 * fills in the body's length.
 */
final class WireWriter {
    private ByteBuffer buf;

    WireWriter(int type) {
        buf = ByteBuffer.allocate(256).order(ByteOrder.LITTLE_ENDIAN);
        buf.putInt(0).putShort((short) type).putShort((short) 0);
    }

    WireWriter i32(int v) {
        room(4).putInt(v);
        return this;
    }

    WireWriter i64(long v) {
        room(8).putLong(v);
        return this;
    }

    WireWriter u16(int v) {
        room(2).putShort((short) v);
        return this;
    }

    /** A string, or none for null. */
    WireWriter string(String s) {
        if (s == null) {
            return i32(WireProtocol.NULL_STRING);
        }
        byte[] b = s.getBytes(StandardCharsets.UTF_8);
        room(4 + b.length).putInt(b.length).put(b);
        return this;
    }

    WireWriter ints(int[] v) {
        room(4 + 4L * v.length).putInt(v.length);
        buf.asIntBuffer().put(v);
        buf.position(buf.position() + 4 * v.length);
        return this;
    }

    WireWriter longs(long[] v) {
        room(4 + 8L * v.length).putInt(v.length);
        buf.asLongBuffer().put(v);
        buf.position(buf.position() + 8 * v.length);
        return this;
    }

    /** The whole message, header included, ready to send (flipped: position 0, limit its length). */
    ByteBuffer bytes() {
        int body = buf.position() - WireProtocol.HEADER_BYTES;
        if (body > WireProtocol.MAX_BODY) {
            throw new IllegalArgumentException("a message body of " + body + " bytes is more than the protocol's "
                    + WireProtocol.MAX_BODY);
        }
        ByteBuffer out = buf.duplicate().order(ByteOrder.LITTLE_ENDIAN).flip();
        out.putInt(0, body);
        return out;
    }

    private ByteBuffer room(long bytes) {
        if (buf.remaining() < bytes) {
            long want = Math.max(buf.capacity() * 2L, buf.position() + bytes);
            if (want > WireProtocol.MAX_BODY + WireProtocol.HEADER_BYTES + 8L) {
                want = Math.max(buf.position() + bytes, WireProtocol.MAX_BODY + WireProtocol.HEADER_BYTES);
            }
            if (want > Integer.MAX_VALUE - 8) {
                throw new IllegalArgumentException("a message of " + want + " bytes is too long");
            }
            ByteBuffer bigger = ByteBuffer.allocate((int) want).order(ByteOrder.LITTLE_ENDIAN);
            bigger.put(buf.flip());
            buf = bigger;
        }
        return buf;
    }
}
