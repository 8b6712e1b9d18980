package org.lmcache4j.bench.model;

/**
 * The reference model's arithmetic, scalar fp32 in a fixed order. Java floating point is strict
 * (IEEE 754 binary32, round to nearest, no fused multiply-add unless asked), and the only
 * transcendental functions used are {@link StrictMath}'s, which are bit-reproducible; so each
 * function returns the same bits for the same inputs, whichever thread or JIT tier runs it.
 */
final class Kernels {
    static final float EPS = 1e-5f;

    private Kernels() {
    }

    /** {@code a[ao..ao+n) · b[bo..bo+n)}: four partial sums in a fixed order, then added pairwise. */
    static float dot(float[] a, int ao, float[] b, int bo, int n) {
        float s0 = 0, s1 = 0, s2 = 0, s3 = 0;
        int i = 0;
        for (; i + 3 < n; i += 4) {
            s0 += a[ao + i] * b[bo + i];
            s1 += a[ao + i + 1] * b[bo + i + 1];
            s2 += a[ao + i + 2] * b[bo + i + 2];
            s3 += a[ao + i + 3] * b[bo + i + 3];
        }
        for (; i < n; i++) {
            s0 += a[ao + i] * b[bo + i];
        }
        return (s0 + s1) + (s2 + s3);
    }

    /** {@code out[r] = W[r] · x} for the {@code rows x cols} row-major matrix {@code w}. */
    static void matVec(float[] w, float[] x, float[] out, int rows, int cols) {
        for (int r = 0; r < rows; r++) {
            out[r] = dot(w, r * cols, x, 0, cols);
        }
    }

    /** RMSNorm: {@code x / sqrt(mean(x²) + eps) * gain} into {@code out}. */
    static void rmsNorm(float[] x, float[] gain, float[] out) {
        float inv = 1.0f / (float) Math.sqrt(dot(x, 0, x, 0, x.length) / x.length + EPS); // sqrt is exact IEEE
        for (int i = 0; i < x.length; i++) {
            out[i] = x[i] * inv * gain[i];
        }
    }

    /**
     * Rotary position embedding in place on each head of {@code v} (rotating pairs
     * {@code (2i, 2i+1)}), with the angles of {@code pos} from {@link #ropeTable}.
     */
    static void rope(float[] v, int headSize, float[] cos, float[] sin) {
        int half = headSize / 2;
        for (int h = 0; h < v.length; h += headSize) {
            for (int i = 0; i < half; i++) {
                float a = v[h + 2 * i];
                float b = v[h + 2 * i + 1];
                v[h + 2 * i] = a * cos[i] - b * sin[i];
                v[h + 2 * i + 1] = a * sin[i] + b * cos[i];
            }
        }
    }

    /** cos (plane 0) and sin (plane 1) of {@code pos * theta^(-2i/headSize)} for {@code i < headSize/2}. */
    static float[][] ropeTable(int pos, int headSize) {
        int half = headSize / 2;
        float[][] t = new float[2][half];
        for (int i = 0; i < half; i++) {
            double angle = pos * StrictMath.pow(10000.0, -2.0 * i / headSize);
            t[0][i] = (float) StrictMath.cos(angle);
            t[1][i] = (float) StrictMath.sin(angle);
        }
        return t;
    }

    static float exp(float x) {
        return (float) StrictMath.exp(x);
    }

    /** SiLU(gate) * up, in place in {@code gate}. */
    static void swiGlu(float[] gate, float[] up) {
        for (int i = 0; i < gate.length; i++) {
            float g = gate[i];
            gate[i] = g / (1.0f + exp(-g)) * up[i];
        }
    }
}
