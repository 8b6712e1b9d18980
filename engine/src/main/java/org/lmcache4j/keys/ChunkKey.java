package org.lmcache4j.keys;

import java.util.HexFormat;

/**
 * The 128-bit key of one chunk: the first 16 bytes of a SHA-256 digest, as two big-endian longs
 * ({@code hi} holds bytes 0..7). See {@link ChunkHasher} for how it is computed.
 */
public record ChunkKey(long hi, long lo) {
    public static final int BYTES = 16;

    /** The key's 16 bytes as 32 lower-case hex digits, as records and logs name it. */
    public String hex() {
        HexFormat hex = HexFormat.of();
        return hex.toHexDigits(hi) + hex.toHexDigits(lo);
    }

    @Override
    public String toString() {
        return hex();
    }
}
