package org.lmcache4j.bench.model;

import java.util.SplittableRandom;

/** Seeded random fp32 weights of a {@link ModelShape}; matrices are row-major {@code [out][in]}. */
final class Weights {
    final float[] embedding;   // [vocab][dim], also the output head (tied)
    final float[] finalNorm;   // [dim]
    final Layer[] layers;

    /** One decoder layer. */
    static final class Layer {
        final float[] attnNorm;
        final float[] wq;   // [dim][dim]
        final float[] wk;   // [kvDim][dim]
        final float[] wv;   // [kvDim][dim]
        final float[] wo;   // [dim][dim]
        final float[] mlpNorm;
        final float[] w1;   // gate [ffn][dim]
        final float[] w3;   // up   [ffn][dim]
        final float[] w2;   // down [dim][ffn]

        Layer(ModelShape s, SplittableRandom rnd) {
            attnNorm = norm(s.dim(), rnd);
            wq = matrix(s.dim(), s.dim(), rnd);
            wk = matrix(s.kvDim(), s.dim(), rnd);
            wv = matrix(s.kvDim(), s.dim(), rnd);
            wo = matrix(s.dim(), s.dim(), rnd);
            mlpNorm = norm(s.dim(), rnd);
            w1 = matrix(s.ffn(), s.dim(), rnd);
            w3 = matrix(s.ffn(), s.dim(), rnd);
            w2 = matrix(s.dim(), s.ffn(), rnd);
        }
    }

    Weights(ModelShape s) {
        SplittableRandom rnd = new SplittableRandom(s.seed());
        embedding = new float[s.vocab() * s.dim()];
        for (int i = 0; i < embedding.length; i++) {
            embedding[i] = (float) rnd.nextDouble(-1, 1);
        }
        layers = new Layer[s.layers()];
        for (int l = 0; l < layers.length; l++) {
            layers[l] = new Layer(s, rnd);
        }
        finalNorm = norm(s.dim(), rnd);
    }

    /** Uniform in ±sqrt(3 / in): unit variance outputs for unit variance inputs. */
    private static float[] matrix(int out, int in, SplittableRandom rnd) {
        double bound = Math.sqrt(3.0 / in);
        float[] m = new float[out * in];
        for (int i = 0; i < m.length; i++) {
            m[i] = (float) rnd.nextDouble(-bound, bound);
        }
        return m;
    }

    private static float[] norm(int dim, SplittableRandom rnd) {
        float[] g = new float[dim];
        for (int i = 0; i < dim; i++) {
            g[i] = (float) rnd.nextDouble(0.8, 1.2);
        }
        return g;
    }
}
