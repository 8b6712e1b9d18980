package org.lmcache4j.server;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;

/**
 * Reads one message's body field by field ({@link WireProtocol}). A body that ends early, a count
 * beyond what is left, text that is not UTF-8, or bytes left over are {@link MalformedMessage}:
 * the peer does not speak the protocol, and the connection ends.
 */
final class WireReader {
    /** A message that breaks the protocol's rules (a bug of the peer, not a refused value). */
    static final class MalformedMessage extends RuntimeException {
        MalformedMessage(String message) {
            super(message);
        }
    }

    private final ByteBuffer body;
    private final String what;

    /** {@code what} names the message in errors ("LOOKUP"). */
    WireReader(ByteBuffer body, String what) {
        this.body = body.order(ByteOrder.LITTLE_ENDIAN);
        this.what = what;
    }

    int i32() {
        need(4);
        return body.getInt();
    }

    long i64() {
        need(8);
        return body.getLong();
    }

    /** A string that may not be none. */
    String string() {
        String s = nullableString();
        if (s == null) {
            throw new MalformedMessage(what + ": a string that must be given is none");
        }
        return s;
    }

    /** A string, or null where the peer sent none (length 0xFFFFFFFF). */
    String nullableString() {
        int len = i32();
        if (len == WireProtocol.NULL_STRING) {
            return null;
        }
        need(Integer.toUnsignedLong(len));
        ByteBuffer bytes = body.slice(body.position(), len);
        body.position(body.position() + len);
        try {
            return StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT).decode(bytes).toString();
        } catch (CharacterCodingException e) {
            throw new MalformedMessage(what + ": a string is not UTF-8");
        }
    }

    int[] ints() {
        int n = count(4);
        int[] v = new int[n];
        body.asIntBuffer().get(v);
        body.position(body.position() + 4 * n);
        return v;
    }

    long[] longs() {
        int n = count(8);
        long[] v = new long[n];
        body.asLongBuffer().get(v);
        body.position(body.position() + 8 * n);
        return v;
    }

    /** {@code n} raw bytes. */
    byte[] bytes(int n) {
        need(n);
        byte[] b = new byte[n];
        body.get(b);
        return b;
    }

    /** An array's count, its {@code elementBytes}-byte elements checked to be in the body. */
    int arrayCount(int elementBytes) {
        return count(elementBytes);
    }

    /** Throws unless every byte of the body was read. */
    void end() {
        if (body.hasRemaining()) {
            throw new MalformedMessage(what + ": " + body.remaining() + " bytes after its last field");
        }
    }

    private int count(int elementBytes) {
        long n = Integer.toUnsignedLong(i32());
        need(n * elementBytes);
        return (int) n;
    }

    private void need(long bytes) {
        if (bytes > body.remaining()) {
            throw new MalformedMessage(what + ": the body ends " + (bytes - body.remaining())
                    + " bytes before its fields do");
        }
    }
}
