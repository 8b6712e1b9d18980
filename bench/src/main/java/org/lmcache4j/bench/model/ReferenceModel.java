package org.lmcache4j.bench.model;

import java.util.function.IntConsumer;
import java.util.stream.IntStream;

/**
 * A small Llama-style decoder in fp32: token embedding, then per layer RMSNorm, grouped-query
 * attention with rotary positions, a residual, RMSNorm, a SwiGLU MLP and a residual; a final
 * RMSNorm and an output head tied to the embedding.
 *
 * <p>{@link #prefill} computes positions {@code from..n-1} of a prompt whose first {@code from}
 * positions already have their K and V in the paged cache (computed earlier, or loaded there by
 * the offload engine). Every new position writes its K and V into the cache first, and attention
 * then reads all K and V of positions {@code 0..t} back from the cache, in position order. So the
 * attention of a position sees the same bytes in the same order whether its prefix was computed
 * in this call or loaded from the engine, and each position's arithmetic ({@link Kernels}) does
 * not depend on which other positions are in the batch: the logits are bit-identical either way.
 */
public final class ReferenceModel {
    private final ModelShape shape;
    private final Weights w;

    public ReferenceModel(ModelShape shape) {
        this.shape = shape;
        this.w = new Weights(shape);
    }

    public ModelShape shape() {
        return shape;
    }

    /**
     * Runs positions {@code from..tokens.length-1} through the model, their K and V written to
     * {@code cache} at {@code slots}; the K and V of positions {@code 0..from-1} must be there
     * already. Returns the logits that predict the token after the prompt.
     */
    public float[] prefill(int[] tokens, long[] slots, int from, PagedKvCache cache) {
        return prefill(tokens, slots, from, cache, layer -> { });
    }

    /**
     * As {@link #prefill(int[], long[], int, PagedKvCache)}, calling {@code beforeLayer} with each
     * layer's index before it reads that layer's cache: vLLM's {@code wait_for_layer_load}, where a
     * layer-by-layer load makes the layer's KV land.
     */
    public float[] prefill(int[] tokens, long[] slots, int from, PagedKvCache cache, IntConsumer beforeLayer) {
        int n = tokens.length;
        if (slots.length != n || from < 0 || from >= n) {
            throw new IllegalArgumentException("prefill of positions " + from + ".." + (n - 1) + " with "
                    + slots.length + " slots");
        }
        int dim = shape.dim();
        int hs = shape.headSize();
        float[][] x = new float[n - from][];
        float[][][] rope = new float[n - from][][];
        for (int t = from; t < n; t++) {
            x[t - from] = new float[dim];
            System.arraycopy(w.embedding, tokens[t] * dim, x[t - from], 0, dim);
            rope[t - from] = Kernels.ropeTable(t, hs);
        }
        float[] keys = new float[n * shape.kvDim()];
        float[] values = new float[n * shape.kvDim()];
        float[][] q = new float[n - from][];
        for (int l = 0; l < shape.layers(); l++) {
            Weights.Layer layer = w.layers[l];
            int layerIndex = l;
            beforeLayer.accept(l);
            parallel(from, n, t -> q[t - from] = project(layerIndex, layer, x[t - from], rope[t - from], slots[t], cache));
            cache.read(l, slots, n, keys, values);
            parallel(from, n, t -> mix(layer, x[t - from], q[t - from], t, keys, values));
        }
        float[] last = new float[dim];
        Kernels.rmsNorm(x[n - 1 - from], w.finalNorm, last);
        float[] logits = new float[shape.vocab()];
        Kernels.matVec(w.embedding, last, logits, shape.vocab(), dim);
        return logits;
    }

    /** Q, K and V of one position; K and V go to the cache, Q is returned. */
    private float[] project(int l, Weights.Layer layer, float[] x, float[][] rope, long slot, PagedKvCache cache) {
        int dim = shape.dim();
        int kvDim = shape.kvDim();
        float[] xn = new float[dim];
        Kernels.rmsNorm(x, layer.attnNorm, xn);
        float[] q = new float[dim];
        float[] k = new float[kvDim];
        float[] v = new float[kvDim];
        Kernels.matVec(layer.wq, xn, q, dim, dim);
        Kernels.matVec(layer.wk, xn, k, kvDim, dim);
        Kernels.matVec(layer.wv, xn, v, kvDim, dim);
        Kernels.rope(q, shape.headSize(), rope[0], rope[1]);
        Kernels.rope(k, shape.headSize(), rope[0], rope[1]);
        cache.write(l, slot, k, v);
        return q;
    }

    /** Attention of position {@code t} over positions {@code 0..t}, then the MLP; updates {@code x}. */
    private void mix(Weights.Layer layer, float[] x, float[] q, int t, float[] keys, float[] values) {
        int dim = shape.dim();
        int hs = shape.headSize();
        int kvDim = shape.kvDim();
        int group = shape.heads() / shape.kvHeads();
        float scale = (float) (1.0 / Math.sqrt(hs));
        float[] att = new float[dim];
        float[] scores = new float[t + 1];
        for (int h = 0; h < shape.heads(); h++) {
            int kvOff = (h / group) * hs;
            float max = Float.NEGATIVE_INFINITY;
            for (int j = 0; j <= t; j++) {
                scores[j] = Kernels.dot(q, h * hs, keys, j * kvDim + kvOff, hs) * scale;
                max = Math.max(max, scores[j]);
            }
            float sum = 0;
            for (int j = 0; j <= t; j++) {
                scores[j] = Kernels.exp(scores[j] - max);
                sum += scores[j];
            }
            for (int j = 0; j <= t; j++) {
                float p = scores[j];
                int vo = j * kvDim + kvOff;
                for (int d = 0; d < hs; d++) {
                    att[h * hs + d] += p * values[vo + d];
                }
            }
            for (int d = 0; d < hs; d++) {
                att[h * hs + d] /= sum;
            }
        }
        float[] o = new float[dim];
        Kernels.matVec(layer.wo, att, o, dim, dim);
        for (int i = 0; i < dim; i++) {
            x[i] += o[i];
        }
        float[] xn = new float[dim];
        Kernels.rmsNorm(x, layer.mlpNorm, xn);
        float[] gate = new float[shape.ffn()];
        float[] up = new float[shape.ffn()];
        Kernels.matVec(layer.w1, xn, gate, shape.ffn(), dim);
        Kernels.matVec(layer.w3, xn, up, shape.ffn(), dim);
        Kernels.swiGlu(gate, up);
        float[] down = new float[dim];
        Kernels.matVec(layer.w2, gate, down, dim, shape.ffn());
        for (int i = 0; i < dim; i++) {
            x[i] += down[i];
        }
    }

    /** Runs {@code body} for each position; positions are independent, so any schedule gives the same bits. */
    private static void parallel(int from, int to, IntConsumer body) {
        if (to - from < 8) {
            for (int t = from; t < to; t++) {
                body.accept(t);
            }
        } else {
            IntStream.range(from, to).parallel().forEach(body);
        }
    }
}
