package org.lmcache4j.cli;

import org.lmcache4j.KvLayout;
import org.lmcache4j.transfer.PagedCaches;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * The KV "a model computes" in the replay: token {@code t}'s rows are a function of the hash of
 * tokens {@code [0, t]} (as real KV depends on the whole prefix through attention), the layer,
 * the plane and the position in the row. Any byte that lands in the wrong token, layer, plane or
 * offset, or is stale, differs from what {@link #mismatchedBytes} expects.
 */
final class SyntheticKv {
    private static final long GOLDEN = 0x9E3779B97F4A7C15L;
    private static final ValueLayout.OfLong WORD = ValueLayout.JAVA_LONG_UNALIGNED;

    private final PagedCaches caches;
    private final KvLayout layout;
    private final long rowBytes;
    private final long rowWords;
    /** One row of {@link #MARKER}, to compare rows against in bulk. */
    private final MemorySegment markerRow;

    SyntheticKv(PagedCaches caches) {
        this.caches = caches;
        this.layout = caches.layout();
        this.rowBytes = layout.rowBytes();
        this.rowWords = rowBytes / Long.BYTES;
        this.markerRow = Arena.ofAuto().allocate(rowBytes).fill(MARKER);
    }

    /** {@code h[t]}: a hash of tokens {@code [0, t]}. */
    static long[] prefixHashes(int[] tokens) {
        long[] h = new long[tokens.length];
        long acc = 0x243F6A8885A308D3L;
        for (int t = 0; t < tokens.length; t++) {
            acc = mix(acc ^ (tokens[t] * GOLDEN) ^ t);
            h[t] = acc;
        }
        return h;
    }

    /** Writes token {@code t}'s rows (prefix hash {@code h}) at {@code slot}: the "prefill". */
    void write(long slot, long h) {
        for (int layer = 0; layer < layout.numLayers(); layer++) {
            MemorySegment cache = caches.layer(layer);
            for (int plane = 0; plane < layout.format().planes(); plane++) {
                long base = caches.offset(plane, slot);
                long seed = rowSeed(h, layer, plane);
                for (long w = 0; w < rowWords; w++) {
                    cache.set(WORD, base + w * Long.BYTES, seed ^ (w * GOLDEN));
                }
                for (long b = rowWords * Long.BYTES; b < rowBytes; b++) {
                    cache.set(ValueLayout.JAVA_BYTE, base + b, (byte) (seed >>> (b & 7)));
                }
            }
        }
    }

    /** Bytes of token {@code t}'s rows at {@code slot} that differ from what the model computed. */
    long mismatchedBytes(long slot, long h) {
        long bad = 0;
        for (int layer = 0; layer < layout.numLayers(); layer++) {
            MemorySegment cache = caches.layer(layer);
            for (int plane = 0; plane < layout.format().planes(); plane++) {
                long base = caches.offset(plane, slot);
                long seed = rowSeed(h, layer, plane);
                for (long w = 0; w < rowWords; w++) {
                    long diff = cache.get(WORD, base + w * Long.BYTES) ^ seed ^ (w * GOLDEN);
                    if (diff != 0) {
                        bad += differingBytes(diff);
                    }
                }
                for (long b = rowWords * Long.BYTES; b < rowBytes; b++) {
                    if (cache.get(ValueLayout.JAVA_BYTE, base + b) != (byte) (seed >>> (b & 7))) {
                        bad++;
                    }
                }
            }
        }
        return bad;
    }

    /** A byte no model output is made of here: fresh blocks are filled with it before a request. */
    static final byte MARKER = (byte) 0xA5;

    /** Fills the rows at {@code slot} with {@link #MARKER}, as a freshly allocated block holds garbage. */
    void mark(long slot) {
        for (int layer = 0; layer < layout.numLayers(); layer++) {
            MemorySegment cache = caches.layer(layer);
            for (int plane = 0; plane < layout.format().planes(); plane++) {
                cache.asSlice(caches.offset(plane, slot), rowBytes).fill(MARKER);
            }
        }
    }

    /**
     * Bytes at {@code slot} that are no longer {@link #MARKER}: something wrote past the prefix a
     * retrieve reported (a gap, a stray copy).
     */
    long strayBytes(long slot) {
        long stray = 0;
        for (int layer = 0; layer < layout.numLayers(); layer++) {
            MemorySegment cache = caches.layer(layer);
            for (int plane = 0; plane < layout.format().planes(); plane++) {
                MemorySegment row = cache.asSlice(caches.offset(plane, slot), rowBytes);
                if (row.mismatch(markerRow) < 0) {
                    continue; // the common case, compared in bulk
                }
                for (long b = 0; b < rowBytes; b++) {
                    if (row.get(ValueLayout.JAVA_BYTE, b) != MARKER) {
                        stray++;
                    }
                }
            }
        }
        return stray;
    }

    /** Bytes of one token's rows: what {@link #mismatchedBytes} checks. */
    long tokenBytes() {
        return layout.tokenBytes();
    }

    private static long rowSeed(long h, int layer, int plane) {
        return mix(h + (layer * 2L + plane + 1) * GOLDEN);
    }

    private static int differingBytes(long diff) {
        int n = 0;
        for (int i = 0; i < 8; i++) {
            if (((diff >>> (i * 8)) & 0xFF) != 0) {
                n++;
            }
        }
        return n;
    }

    /** SplitMix64's finaliser. */
    private static long mix(long z) {
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        return z ^ (z >>> 31);
    }
}
