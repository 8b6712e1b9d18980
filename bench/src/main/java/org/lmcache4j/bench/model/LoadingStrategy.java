package org.lmcache4j.bench.model;

/**
 * How the replay's connector brings a request's cached prefix into its blocks: the serving loop
 * calls {@link #begin} at the step boundary where the request is first scheduled, before that
 * step's forward pass, and lets the request prefill once the load has landed. A synchronous
 * strategy loads inside {@code begin} (the whole batch waits, as vLLM's connector does without
 * {@code load_kv_async}); an asynchronous one returns at once and lands later, while the batch
 * goes on decoding. Another way to load (layer by layer) is one more implementation.
 */
interface LoadingStrategy {
    /** No loading: every request computes its whole prompt (the reference the others must equal). */
    LoadingStrategy RECOMPUTE = new LoadingStrategy() {
        public String name() { return "recompute"; }
        public KvLoad begin(String requestId, int[] prompt, long[] slots) { return KvLoad.NONE; }
    };

    /** Its name in reports: {@code recompute}, {@code sync}, {@code async}. */
    String name();

    /**
     * Starts loading the cached prefix of {@code prompt} for {@code requestId} into {@code slots}
     * (the prompt's slots in the request's fresh blocks). The last prompt token is never loaded:
     * its logits are needed, so it is always computed, as vLLM does.
     */
    KvLoad begin(String requestId, int[] prompt, long[] slots);
}
