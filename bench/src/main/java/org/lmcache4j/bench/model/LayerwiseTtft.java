package org.lmcache4j.bench.model;

import org.lmcache4j.CacheEngine;
import org.lmcache4j.CudaStream;
import org.lmcache4j.KeyScope;
import org.lmcache4j.LayeredRetrieve;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.Semaphore;

/**
 * Time to first token of a full CPU-pool hit, loaded whole ({@code retrieve}, then the prefill of
 * the last token) and layer by layer ({@code retrieveLayers}: a loader thread copies layer after
 * layer while the model computes; before each layer the model waits for its copy, as vLLM's
 * {@code wait_for_layer_load}). The two alternate on the same prompts, and each layer-by-layer
 * request's logits are compared bit for bit with the whole-chunk one's.
 */
final class LayerwiseTtft {
    /** Medians of both ways, and the layer-by-layer requests whose logits differed. */
    record Result(double wholeMs, double layerwiseMs, int samples, long mismatches) {
        double ratio() {
            return layerwiseMs / wholeMs;
        }
    }

    private LayerwiseTtft() {
    }

    /** Serves each of {@code prompts} (all in the pool) {@code rounds} times each way. */
    static Result measure(CacheEngine engine, ReferenceModel model, PagedKvCache cache, List<int[]> prompts, int rounds) {
        List<Long> whole = new ArrayList<>();
        List<Long> layered = new ArrayList<>();
        long mismatches = 0;
        try (ExecutorService loader = Executors.newSingleThreadExecutor(
                Thread.ofPlatform().daemon().name("reference-layer-loader").factory())) {
            for (int round = 0; round < rounds; round++) {
                for (int[] prompt : prompts) {
                    long[] slots = cache.allocate(prompt.length);
                    try {
                        long t0 = System.nanoTime();
                        float[] a = wholeChunk(engine, model, cache, prompt, slots);
                        long t1 = System.nanoTime();
                        float[] b = layerByLayer(engine, model, cache, prompt, slots, loader);
                        long t2 = System.nanoTime();
                        whole.add(t1 - t0);
                        layered.add(t2 - t1);
                        mismatches += Arrays.equals(ServingLoop.bits(a), ServingLoop.bits(b)) ? 0 : 1;
                    } finally {
                        cache.free(slots);
                    }
                }
            }
        }
        return new Result(p50Ms(whole), p50Ms(layered), whole.size(), mismatches);
    }

    private static float[] wholeChunk(CacheEngine engine, ReferenceModel model, PagedKvCache cache, int[] prompt,
                                      long[] slots) {
        int loaded;
        try {
            engine.lookupAndPin("layerwise-ttft", KeyScope.NONE, prompt);
            loaded = AsyncLoading.retrieve(engine, prompt, slots);
        } finally {
            engine.unpin("layerwise-ttft");
        }
        return model.prefill(prompt, slots, loaded, cache);
    }

    private static float[] layerByLayer(CacheEngine engine, ReferenceModel model, PagedKvCache cache, int[] prompt,
                                        long[] slots, ExecutorService loader) {
        long[] target = slots.clone();
        target[prompt.length - 1] = -1; // the last token is computed
        engine.lookupAndPin("layerwise-ttft", KeyScope.NONE, prompt);
        try (LayeredRetrieve layers = engine.retrieveLayers(KeyScope.NONE, prompt, target, 0, CudaStream.DEFAULT)) {
            int loaded = Math.min(layers.tokens(), prompt.length - 1);
            Semaphore landed = new Semaphore(0);
            Future<?> copies = loader.submit(() -> {
                try {
                    for (int l = 0; l < layers.layers(); l++) {
                        layers.loadLayer(l);
                        landed.release();
                    }
                } finally {
                    landed.release(layers.layers()); // a failed copy must not leave the model waiting
                }
            });
            float[] logits = model.prefill(prompt, slots, loaded, cache, l -> landed.acquireUninterruptibly());
            copies.get();
            return logits;
        } catch (Exception e) {
            throw new IllegalStateException("a layer-by-layer retrieve failed: " + e, e);
        } finally {
            engine.unpin("layerwise-ttft");
        }
    }

    private static double p50Ms(List<Long> nanos) {
        return TtftSample.quantile(nanos.stream().mapToLong(Long::longValue).toArray(), 0.5) / 1e6;
    }
}
