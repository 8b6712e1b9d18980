package org.lmcache4j.bench.model;

import org.lmcache4j.KvDtype;
import org.lmcache4j.KvFormat;
import org.lmcache4j.KvLayout;

/**
 * The shape of a {@link ReferenceModel}: a Llama-style decoder with grouped-query attention
 * ({@code kvHeads < heads}), SwiGLU MLP of width {@code ffn}, and an output head tied to the
 * embedding. Weights are drawn from {@code seed}, so a shape names one model exactly.
 */
public record ModelShape(int layers, int dim, int heads, int kvHeads, int ffn, int vocab, long seed) {

    public ModelShape {
        if (layers < 1 || dim < 2 || heads < 1 || kvHeads < 1 || ffn < 1 || vocab < 2) {
            throw new IllegalArgumentException("model sizes must be positive: " + this);
        }
        if (dim % heads != 0 || heads % kvHeads != 0 || (dim / heads) % 2 != 0) {
            throw new IllegalArgumentException("dim must split into heads of even size, heads into kv heads: " + this);
        }
    }

    /** For tests: 2 layers, dim 64, 4 heads over 2 KV heads. */
    public static ModelShape tiny() {
        return new ModelShape(2, 64, 4, 2, 128, 256, 42);
    }

    /** For timing: 4 layers, dim 256, 8 heads over 2 KV heads. */
    public static ModelShape small() {
        return new ModelShape(4, 256, 8, 2, 640, 4096, 42);
    }

    /**
     * {@code small} with a KV head per query head (multi-head attention, as Llama-2-7B): four times
     * the KV bytes a token for about the same compute, so that loading a long prefix takes several
     * decode steps, as it does on a GPU (the loading-mode comparison of the serving loop).
     */
    public static ModelShape smallMha() {
        return new ModelShape(4, 256, 8, 8, 640, 4096, 42);
    }

    /** For longer timing runs: 8 layers, dim 512, 16 heads over 4 KV heads. */
    public static ModelShape medium() {
        return new ModelShape(8, 512, 16, 4, 1408, 8192, 42);
    }

    /** {@code tiny}, {@code small}, {@code small-mha} or {@code medium}. */
    public static ModelShape named(String name) {
        return switch (name) {
            case "tiny" -> tiny();
            case "small" -> small();
            case "small-mha" -> smallMha();
            case "medium" -> medium();
            default -> throw new IllegalArgumentException("model size '" + name + "' is not one of tiny, small, small-mha, medium");
        };
    }

    public int headSize() {
        return dim / heads;
    }

    public int kvDim() {
        return kvHeads * headSize();
    }

    /** The engine layout of this model's KV cache: fp32, vLLM's FLASH_ATTN paged format. */
    public KvLayout kvLayout(int blockSize, int numBlocks) {
        return new KvLayout(layers, kvHeads, headSize(), KvDtype.FLOAT32, blockSize, numBlocks, KvFormat.FLASH_ATTN);
    }
}
