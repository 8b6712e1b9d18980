package org.lmcache4j.bridge;

import java.io.EOFException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.ReadableByteChannel;
import java.nio.channels.WritableByteChannel;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;

/**
 * The frames of the lookup socket: a scheduler process asks a worker's engine how many leading
 * tokens of a prompt it holds. Little-endian throughout; one request, then one response, as many
 * times as the client likes on one connection. {@code src/lmcache4j/lookup_client.py} speaks it.
 *
 * <pre>
 * request   0  4  magic "L4J1"
 *           4  1  op: 1 lookup · 2 lookup and pin for the request id · 3 unpin the request id
 *                     · 4 the engine's effective configuration as JSON
 *           5  1  flags: bit 0 = the request's counts follow the header (ops 1 and 2 only);
 *                     bit 1 = answer the hit's tokens in the CPU pool too (ops 1 and 2 only);
 *                     other bits are refused
 *           6  2  zero (refused otherwise)
 *           8  4  cache_salt bytes  (S)
 *          12  4  adapter bytes     (A)
 *          16  4  request id bytes  (R)
 *          20  4  token count       (N)
 *         (24  4  prompt tokens, 28 4 of them vLLM's prefix cache held: with flag bit 0 only)
 *          24     salt (UTF-8, S) · adapter (A) · request id (R) · tokens (int32, 4N)
 *
 * response  0  4  status: 0, or an lmcache4j_status code
 *           4  4  text bytes (T)
 *           8  8  value: hit tokens (ops 1, 2), chunks unpinned (op 3), 0 (op 4); with flag
 *                     bit 1, hit tokens in the low 32 bits and those of them in the CPU pool
 *                     in the high 32
 *          16     text (UTF-8, T): the error message, or the configuration (op 4)
 * </pre>
 */
final class LookupProtocol {
    static final int MAGIC = 0x314A344C; // "L4J1" read little-endian
    static final int HEADER_BYTES = 24;
    /** Flag bit 0: the prompt's length and vLLM's own hit follow the header (LMCache's prompt metrics). */
    static final int FLAG_PROMPT_COUNTS = 1;
    static final int PROMPT_COUNTS_BYTES = 8;
    /** Flag bit 1: the answer carries the hit's tokens in the CPU pool too (see the response's value). */
    static final int FLAG_POOL_TOKENS = 2;
    static final int RESPONSE_HEADER_BYTES = 16;
    static final int MAX_TEXT_BYTES = 64 * 1024;
    static final int MAX_TOKENS = 1 << 24;

    enum Op {
        LOOKUP(1), LOOKUP_AND_PIN(2), UNPIN(3), CONFIG(4);

        final int code;

        Op(int code) {
            this.code = code;
        }

        static Op of(int code) {
            for (Op op : values()) {
                if (op.code == code) {
                    return op;
                }
            }
            throw new IllegalArgumentException("unknown lookup-socket op " + code);
        }
    }

    /**
     * {@code promptTokens} and {@code vllmHitTokens} are as sent, and meaningless unless {@code counted};
     * {@code poolTokens}: the answer carries the hit's tokens in the CPU pool too.
     */
    record Request(Op op, String cacheSalt, String adapter, String requestId, int[] tokens, boolean counted,
                   int promptTokens, int vllmHitTokens, boolean poolTokens) {
    }

    private LookupProtocol() {
    }

    /** The next request, or null at a clean end of stream. Bad frames throw IllegalArgumentException. */
    static Request read(ReadableByteChannel in) throws IOException {
        ByteBuffer h = ByteBuffer.allocate(HEADER_BYTES).order(ByteOrder.LITTLE_ENDIAN);
        if (!fill(in, h, true)) {
            return null;
        }
        h.flip();
        if (h.getInt() != MAGIC) {
            throw new IllegalArgumentException("not an LMCache4j lookup request (bad magic)");
        }
        Op op = Op.of(h.get() & 0xFF);
        int flags = h.get() & 0xFF;
        // Bits and bytes this server does not know may announce more bytes than it would read: the
        // stream would be out of step, so they end the connection rather than being ignored.
        if ((flags & ~(FLAG_PROMPT_COUNTS | FLAG_POOL_TOKENS)) != 0) {
            throw new IllegalArgumentException("unknown lookup-socket flags 0x" + Integer.toHexString(flags));
        }
        if (flags != 0 && op != Op.LOOKUP && op != Op.LOOKUP_AND_PIN) {
            throw new IllegalArgumentException("the prompt-counts and pool-tokens flags are for lookups, not op "
                    + op.code);
        }
        if (h.getShort() != 0) {
            throw new IllegalArgumentException("the reserved bytes 6-7 of a lookup request must be zero");
        }
        int s = length(h.getInt(), MAX_TEXT_BYTES, "cache_salt");
        int a = length(h.getInt(), MAX_TEXT_BYTES, "adapter");
        int r = length(h.getInt(), MAX_TEXT_BYTES, "request id");
        int n = length(h.getInt(), MAX_TOKENS, "token count");
        boolean counted = (flags & FLAG_PROMPT_COUNTS) != 0;
        int prompt = 0;
        int vllmHit = 0;
        if (counted) {
            ByteBuffer counts = ByteBuffer.allocate(PROMPT_COUNTS_BYTES).order(ByteOrder.LITTLE_ENDIAN);
            fill(in, counts, false);
            counts.flip();
            prompt = counts.getInt();
            vllmHit = counts.getInt();
        }
        ByteBuffer body = ByteBuffer.allocate(s + a + r + 4 * n).order(ByteOrder.LITTLE_ENDIAN);
        fill(in, body, false);
        body.flip();
        String salt = utf8(body, s);
        String adapter = utf8(body, a);
        String requestId = utf8(body, r);
        int[] tokens = new int[n];
        body.asIntBuffer().get(tokens);
        return new Request(op, salt, adapter, requestId, tokens, counted, prompt, vllmHit,
                (flags & FLAG_POOL_TOKENS) != 0);
    }

    static void write(WritableByteChannel out, int status, long value, String text) throws IOException {
        byte[] t = text == null ? new byte[0] : text.getBytes(StandardCharsets.UTF_8);
        ByteBuffer b = ByteBuffer.allocate(RESPONSE_HEADER_BYTES + t.length).order(ByteOrder.LITTLE_ENDIAN);
        b.putInt(status).putInt(t.length).putLong(value).put(t).flip();
        while (b.hasRemaining()) {
            out.write(b);
        }
    }

    private static boolean fill(ReadableByteChannel in, ByteBuffer b, boolean eofAllowedAtStart) throws IOException {
        while (b.hasRemaining()) {
            if (in.read(b) < 0) {
                if (eofAllowedAtStart && b.position() == 0) {
                    return false;
                }
                throw new EOFException("lookup request cut short");
            }
        }
        return true;
    }

    private static int length(int n, int max, String what) {
        if (n < 0 || n > max) {
            throw new IllegalArgumentException(what + " " + Integer.toUnsignedString(n) + " is over the limit " + max);
        }
        return n;
    }

    /**
     * Strict UTF-8, as the C ABI reads it: a lenient decoder would map two different malformed salts
     * to the same replacement characters, and so to the same keys.
     */
    private static String utf8(ByteBuffer b, int n) {
        ByteBuffer slice = b.slice(b.position(), n);
        b.position(b.position() + n);
        try {
            return StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT).decode(slice).toString();
        } catch (CharacterCodingException e) {
            throw new IllegalArgumentException("a cache_salt, adapter or request id is not valid UTF-8");
        }
    }
}
