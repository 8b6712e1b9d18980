package org.lmcache4j;

/**
 * The shape of the serving engine's paged KV cache: identical for every layer, one cache per layer.
 *
 * <p>The chunk format in the pool does not depend on {@code blockSize}, {@code numBlocks} or the
 * paged format (FLASH_ATTN and BLOCKS_FIRST hold the same rows), so chunks stored by one serving
 * engine load into another whose model shape matches: see {@link #shapeFingerprint()}.
 *
 * @param numLayers   attention layers, each with its own paged cache
 * @param numKvHeads  KV heads per layer on this worker (1 for MLA)
 * @param headSize    elements per head (for MLA, the latent width, e.g. 576)
 * @param dtype       element type
 * @param blockSize   tokens per paged block
 * @param numBlocks   blocks in each layer's cache
 * @param format      paged format of each layer's cache
 */
public record KvLayout(int numLayers, int numKvHeads, int headSize, KvDtype dtype, int blockSize,
                       int numBlocks, KvFormat format) {

    public KvLayout {
        requirePositive("num_layers", numLayers);
        requirePositive("num_kv_heads", numKvHeads);
        requirePositive("head_size", headSize);
        requirePositive("block_size", blockSize);
        requirePositive("num_blocks", numBlocks);
        if (dtype == null) {
            throw new IllegalArgumentException("dtype must be given");
        }
        if (format == null) {
            throw new IllegalArgumentException("format must be given");
        }
        if (format == KvFormat.MLA && numKvHeads != 1) {
            throw new IllegalArgumentException("num_kv_heads must be 1 for the mla format, got " + numKvHeads);
        }
        long slots = (long) numBlocks * blockSize;
        if (slots > Integer.MAX_VALUE) {
            throw new IllegalArgumentException("num_blocks * block_size = " + slots + " slots is too many");
        }
    }

    /** Mistral-7B on one GPU: 32 layers, 8 KV heads of 128, bfloat16, block 16, FlashAttention. */
    public static KvLayout mistral7b(int numBlocks) {
        return new KvLayout(32, 8, 128, KvDtype.BFLOAT16, 16, numBlocks, KvFormat.FLASH_ATTN);
    }

    /** Bytes of one token's row in one plane of one layer: {@code num_kv_heads * head_size * elem}. */
    public long rowBytes() {
        return (long) numKvHeads * headSize * dtype.bytes();
    }

    /** Bytes of one token's KV over all layers and planes (Mistral-7B bf16: 128 KiB). */
    public long tokenBytes() {
        return rowBytes() * format.planes() * numLayers;
    }

    /** Bytes of {@code tokens} tokens in the pool's chunk format. */
    public long chunkBytes(int tokens) {
        return tokenBytes() * tokens;
    }

    /** Slots in each layer's cache: {@code num_blocks * block_size}. */
    public int numSlots() {
        return numBlocks * blockSize;
    }

    /** Bytes of one layer's paged cache. */
    public long layerCacheBytes() {
        return rowBytes() * format.planes() * numSlots();
    }

    /**
     * What a chunk's bytes depend on, and nothing else: layers, heads, head size, dtype and
     * whether the cache is MLA. It enters every chunk key, so chunks of another shape never match.
     */
    public String shapeFingerprint() {
        return "layers=" + numLayers + ",kv_heads=" + numKvHeads + ",head_size=" + headSize
                + ",dtype=" + dtype.torchName() + ",planes=" + format.planes();
    }

    private static void requirePositive(String name, int value) {
        if (value <= 0) {
            throw new IllegalArgumentException(name + " must be positive, got " + value);
        }
    }
}
