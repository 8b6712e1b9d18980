package org.lmcache4j.bench.model;

import org.junit.jupiter.api.Test;
import org.lmcache4j.CacheEngine;
import org.lmcache4j.EngineConfig;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The serving loop's KV blocks are a fixed budget sized for the steps a run is expected to take;
 * a run that takes many more (loads that are slow on a busy host keep the background requests
 * decoding) must not run out of blocks: a background request starts its answer over instead.
 */
class ServingLoopBlocksTest {
    @Test
    void backgroundRequestsOutlastingTheBlockBudget_startTheirAnswerOver_andTheRunFinishes() {
        ModelShape shape = ModelShape.tiny();
        ReferenceModel model = new ReferenceModel(shape);
        int bs = 16;
        // two background prompts of 16 tokens and a 32-token hit: 1 + 1 + 2 blocks, +2 to decode into
        try (PagedKvCache cache = new PagedKvCache(shape.kvLayout(bs, 8), 1);
             CacheEngine engine = CacheEngine.builder().layout(cache.layout()).model("blocks-test")
                     .config(EngineConfig.builder().chunkSize(16).maxLocalCpuSizeGb(0.01).build()).open()) {
            engine.registerKvCaches(cache.layers());
            java.util.Random rnd = new java.util.Random(3);
            List<ServingRequest> requests = List.of(
                    new ServingRequest("bg-0", ServingRequest.Kind.BACKGROUND, 0, tokens(rnd, 16, shape), 0, -1),
                    new ServingRequest("bg-1", ServingRequest.Kind.BACKGROUND, 0, tokens(rnd, 16, shape), 0, -1),
                    // arrives after 120 steps: the background requests decode 120 tokens, 8 blocks each
                    new ServingRequest("hit", ServingRequest.Kind.DISK_HIT, 120, tokens(rnd, 32, shape), 2, -1));
            ServingRun run = new ServingLoop(model, cache, 64).run(requests, new SyncLoading(engine), engine);
            assertTrue(run.steps().size() >= 120, "steps: " + run.steps().size());
            assertEquals(0, engine.stats().leases());
            assertEquals(0, engine.stats().pins());
        }
    }

    private static int[] tokens(java.util.Random rnd, int n, ModelShape shape) {
        int[] t = new int[n];
        for (int i = 0; i < n; i++) {
            t[i] = rnd.nextInt(shape.vocab());
        }
        return t;
    }
}
