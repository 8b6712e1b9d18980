package org.lmcache4j.bench.model;

import java.util.List;

/**
 * What one run of the {@link ServingLoop} gave: every step, and what became of every request.
 *
 * @param strategy the loading strategy's name
 * @param steps    every step, in order
 * @param outcomes every request, in the order they were given
 */
record ServingRun(String strategy, List<Step> steps, List<Outcome> outcomes) {

    /**
     * The steps from the first hit request's arrival on: by then every background request has
     * prefilled and decodes, so these steps differ only by what the hits bring (their loads, their
     * prefill, their longer context). The steps before are the background prompts' prefill.
     */
    List<Step> measured() {
        int first = outcomes.stream().filter(o -> o.request().kind() != ServingRequest.Kind.BACKGROUND)
                .mapToInt(o -> o.request().arrivalStep()).min().orElse(0);
        return steps.subList(Math.min(first, steps.size()), steps.size());
    }

    /**
     * One step (one forward pass of the batch).
     *
     * @param startNanos  when it began, from the run's start
     * @param nanos       how long it took: scheduling, synchronous loads, the forward pass, stores
     * @param decoding    requests that produced a token other than their first: each waited exactly
     *                    this step for it, so the step's time is their inter-token latency
     * @param prefill     prompt tokens computed in it
     * @param loading     whether a load from the disk or remote tier was in flight during it
     * @param beginNanos  how much of it the loading strategy took to begin the loads of the
     *                    requests that arrived (a whole synchronous load; a lookup and a started
     *                    prefetch when asynchronous)
     */
    record Step(long startNanos, long nanos, int decoding, int prefill, boolean loading, long beginNanos) {
        /** Whether it is an inter-token-latency sample: someone was decoding. */
        boolean itlSample() {
            return decoding > 0;
        }
    }

    /**
     * A request's end.
     *
     * @param request            the request
     * @param arrivalStep        the step it arrived at (after its arrival step, when it waited for another)
     * @param loadedTokens       prompt tokens its load brought in (the rest it prefilled)
     * @param belowPool          whether its load read from the disk or remote tier
     * @param loadNanos          from the start of its load to its landing in the blocks; -1 if nothing loaded
     * @param ttftNanos          from the start of the step it arrived at to the end of the step that
     *                           gave its first token; -1 if it was aborted before
     * @param logitBits          the raw bits of the logits of each token it produced, for the
     *                           requests that were not background ones; empty otherwise
     * @param aborted            whether it was aborted
     * @param abortedWhileLoading whether its load was still in flight then
     */
    record Outcome(ServingRequest request, int arrivalStep, int loadedTokens, boolean belowPool, long loadNanos, long ttftNanos,
                   List<int[]> logitBits, boolean aborted, boolean abortedWhileLoading) {
    }
}
