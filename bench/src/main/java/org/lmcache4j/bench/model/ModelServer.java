package org.lmcache4j.bench.model;

import org.lmcache4j.CacheEngine;
import org.lmcache4j.KeyScope;

/**
 * Serves one prompt the way vLLM with an offload connector does, up to the first token: look up
 * and pin the prompt's cached prefix, retrieve it into the request's freshly allocated blocks,
 * prefill only the rest, store the new chunks, and free the blocks. On a hit of the whole prompt
 * it loads at most {@code tokens - 1} (the last slot is {@code -1}) and recomputes the last token,
 * as vLLM does, since the logits of the last position are needed. Without an engine it prefills
 * the whole prompt.
 */
public final class ModelServer {
    private final ReferenceModel model;
    private final PagedKvCache cache;
    private long requestSeq;

    public ModelServer(ReferenceModel model, PagedKvCache cache) {
        this.model = model;
        this.cache = cache;
    }

    /**
     * What serving one prompt gave: the next-token logits, the tokens loaded from the engine, the
     * time to first token (lookup, retrieve, prefill and store) and the engine's share of it.
     */
    public record Served(float[] logits, int loadedTokens, long ttftNanos, long lookupNanos, long retrieveNanos,
                         long storeNanos) {
        /** The logits' raw bits, to compare exactly (NaN payloads and signed zeros included). */
        public int[] logitBits() {
            int[] b = new int[logits.length];
            for (int i = 0; i < logits.length; i++) {
                b[i] = Float.floatToRawIntBits(logits[i]);
            }
            return b;
        }
    }

    /** Serves {@code prompt} through {@code engine}, or without offloading when it is null. */
    public Served serve(int[] prompt, CacheEngine engine) {
        long start = System.nanoTime();
        long[] slots = cache.allocate(prompt.length);
        try {
            int loaded = 0;
            long lookupNanos = 0;
            long retrieveNanos = 0;
            long storeNanos = 0;
            if (engine != null) {
                String id = "req-" + requestSeq++;
                long t0 = System.nanoTime();
                int hit = engine.lookupAndPin(id, KeyScope.NONE, prompt);
                long looked = System.nanoTime();
                lookupNanos = looked - t0;
                try {
                    if (hit > 0) {
                        long[] target = slots;
                        if (hit >= prompt.length) {
                            target = slots.clone();
                            target[prompt.length - 1] = -1; // recompute the last token
                        }
                        loaded = Math.min(engine.retrieve(prompt, target, 0), prompt.length - 1);
                    }
                } finally {
                    engine.unpin(id);
                }
                retrieveNanos = System.nanoTime() - looked;
            }
            float[] logits = model.prefill(prompt, slots, loaded, cache);
            if (engine != null) {
                long t0 = System.nanoTime();
                int chunk = engine.config().chunkSize();
                engine.store(prompt, slots, loaded / chunk * chunk);
                storeNanos = System.nanoTime() - t0;
            }
            return new Served(logits, loaded, System.nanoTime() - start, lookupNanos, retrieveNanos, storeNanos);
        } finally {
            cache.free(slots);
        }
    }
}
