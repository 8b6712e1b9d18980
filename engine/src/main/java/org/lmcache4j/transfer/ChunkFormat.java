package org.lmcache4j.transfer;

import org.lmcache4j.KvLayout;

/**
 * The engine's chunk format: how one chunk of {@code T} tokens lies in a pool page.
 *
 * <pre>
 *  page ─┬─ plane 0 (K) ─┬─ layer 0 ─┬─ token 0   [ row: num_kv_heads * head_size elements ]
 *        │               │           ├─ token 1   [ row ]
 *        │               │           └─ …           T rows
 *        │               ├─ layer 1 ─  T rows
 *        │               └─ …          num_layers blocks of T rows
 *        └─ plane 1 (V) ─  same as K (absent for MLA, whose one plane is the latent cache)
 *
 *  shape [planes, num_layers, T, row]      offset(p, l, t) = ((p * num_layers + l) * T + t) * ROW
 * </pre>
 *
 * It is LMCache's {@code KV_2LTD} ({@code [2, layers, tokens, heads*head_size]}, MLA
 * {@code [1, layers, tokens, head_size]}), independent of block size and paged format, and a
 * partial chunk is packed with its own {@code T}.
 */
public final class ChunkFormat {
    private final int planes;
    private final int layers;
    private final long rowBytes;

    public ChunkFormat(KvLayout layout) {
        this.planes = layout.format().planes();
        this.layers = layout.numLayers();
        this.rowBytes = layout.rowBytes();
    }

    /** Byte offset of the row of token {@code token} of {@code layer} in {@code plane} of a {@code tokens}-token chunk. */
    public long offset(int plane, int layer, int token, int tokens) {
        return (((long) plane * layers + layer) * tokens + token) * rowBytes;
    }

    /** Bytes of a chunk of {@code tokens} tokens. */
    public long bytes(int tokens) {
        return (long) planes * layers * tokens * rowBytes;
    }

    public int planes() {
        return planes;
    }

    public int layers() {
        return layers;
    }

    public long rowBytes() {
        return rowBytes;
    }
}
