package org.lmcache4j.bench.model;

/**
 * One request of the continuous-batching replay ({@link ServingLoop}): it arrives before step
 * {@code arrivalStep}, prefills {@code prompt} (what its loading strategy did not load), then
 * produces {@code outputTokens} tokens, the first from the prefill and one per step after that.
 * A background request with {@code outputTokens == 0} decodes until every other request is done.
 * A request with {@code abortAtStep >= 0} is aborted before that step, wherever it is then. A
 * request {@code after} another (its id; empty for none) arrives no sooner than the step after that
 * one has produced its last token: a prompt served again once the first serving has stored it.
 */
record ServingRequest(String id, Kind kind, int arrivalStep, int[] prompt, int outputTokens, int abortAtStep,
                      String after) {
    /** What the request is there for; the hits' prompts were stored in the tier they name beforehand. */
    enum Kind {
        /** Keeps decoding, a prompt never seen before: its steps are the inter-token latency samples. */
        BACKGROUND,
        /** Its whole prompt is on the disk tier, not in the CPU pool. */
        DISK_HIT,
        /** Its whole prompt is in Redis, neither in the pool nor on disk. */
        REMOTE_HIT,
        /**
         * Its whole prompt is in the CPU pool (a disk hit's prompt again: the disk hit's load left it
         * there), copied into its blocks inside the step that schedules it, in both modes.
         */
        POOL_HIT_IN_STEP,
        /** As {@link #POOL_HIT_IN_STEP}, but the asynchronous mode loads it in the background like a disk hit. */
        POOL_HIT_BACKGROUND;

        boolean poolHit() {
            return this == POOL_HIT_IN_STEP || this == POOL_HIT_BACKGROUND;
        }
    }

    ServingRequest {
        if (prompt.length < 1 || arrivalStep < 0 || outputTokens < 0) {
            throw new IllegalArgumentException("request " + id + ": a prompt, an arrival step and an output length");
        }
        if (!after.isEmpty() && (abortAtStep >= 0 || outputTokens == 0)) {
            throw new IllegalArgumentException("request " + id + ": only a request that is not aborted waits for another");
        }
    }

    ServingRequest(String id, Kind kind, int arrivalStep, int[] prompt, int outputTokens, int abortAtStep) {
        this(id, kind, arrivalStep, prompt, outputTokens, abortAtStep, "");
    }

    /** Decodes until the others are done. */
    boolean openEnded() {
        return outputTokens == 0;
    }

    boolean aborts() {
        return abortAtStep >= 0;
    }
}
