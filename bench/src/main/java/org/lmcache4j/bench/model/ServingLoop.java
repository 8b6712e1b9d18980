package org.lmcache4j.bench.model;

import org.lmcache4j.CacheEngine;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.locks.LockSupport;

/**
 * Continuous batching as vLLM's scheduler does it, on the {@link ReferenceModel}: at every step,
 * every running request decodes one token, and requests whose KV is ready prefill in the token
 * budget that is left ({@code stepTokens}, vLLM's {@code max_num_batched_tokens}: a long prompt
 * is prefilled in pieces over several steps, chunked prefill). A step's time is the model's
 * compute for its batch, plus what the connector does in it: a synchronous load before the
 * forward pass, and the stores of the prompts that finished their prefill.
 *
 * <p>Arriving requests are handed to the {@link LoadingStrategy} at the first step boundary after
 * they arrive, and join the batch once their load has landed. Each request's positions are
 * computed by the model exactly as in a single-request prefill, so a request's logits do not
 * depend on its batch-mates or on whether its prefix was loaded or computed: a run with loads
 * must give the bits of a run without.
 *
 * <p>The forward pass runs on the loop's thread, standing in for the GPU; loads run on the
 * engine's and the strategy's threads, as a connector's I/O runs on the host's CPUs.
 */
final class ServingLoop {
    private static final Logger LOG = LoggerFactory.getLogger(ServingLoop.class);
    private static final int MAX_STEPS = 1_000_000;
    /** How long a step with nothing to compute waits before the next: vLLM's engine polls as often. */
    private static final long IDLE_NANOS = 200_000;

    private final ReferenceModel model;
    private final PagedKvCache cache;
    private final int stepTokens;

    /** Blocks the background requests leave free: those of the requests still to arrive. */
    private int reservedBlocks;

    ServingLoop(ReferenceModel model, PagedKvCache cache, int stepTokens) {
        if (stepTokens < 1) {
            throw new IllegalArgumentException("--step-tokens must be at least 1, got " + stepTokens);
        }
        this.model = model;
        this.cache = cache;
        this.stepTokens = stepTokens;
    }

    /** Where a request is. */
    private enum Phase { LOADING, PREFILL, DECODE, DONE }

    /** A request in the loop. */
    private final class Live {
        final ServingRequest request;
        final long arrivalNanos;
        final int arrivalStep;
        final long loadBeganNanos;
        final KvLoad load;
        final List<int[]> logits = new ArrayList<>();
        long[] slots;
        int[] tokens;
        int length;
        int computed;
        int produced;
        long ttftNanos = -1;
        Phase phase = Phase.LOADING;
        boolean aborted;
        boolean abortedWhileLoading;

        Live(ServingRequest request, long arrivalNanos, int arrivalStep, LoadingStrategy strategy) {
            this.request = request;
            this.arrivalNanos = arrivalNanos;
            this.arrivalStep = arrivalStep;
            int prompt = request.prompt().length;
            int bs = cache.layout().blockSize();
            slots = cache.allocate(roundUp(prompt + Math.max(1, request.outputTokens()), bs));
            tokens = Arrays.copyOf(request.prompt(), slots.length);
            length = prompt;
            loadBeganNanos = System.nanoTime();
            load = begin(strategy, request, Arrays.copyOf(slots, prompt));
        }

        boolean firstTokenDue() {
            return phase == Phase.PREFILL && computed == request.prompt().length;
        }

        /** Appends the token the logits pick (greedy) and keeps their bits when this request is checked. */
        void produce(float[] logits) {
            if (request.kind() != ServingRequest.Kind.BACKGROUND) {
                this.logits.add(bits(logits));
            }
            int bs = cache.layout().blockSize();
            if (length == slots.length && request.openEnded() && !cache.canAllocate((reservedBlocks + 1) * bs)) {
                // the cache's blocks are a fixed budget, and a run waiting on slow loads takes more
                // steps than it was sized for: a background request starts its answer over, in
                // its own blocks (its prompt's KV is still there; its logits are not checked),
                // rather than take the blocks of the requests still to arrive
                length = request.prompt().length;
            } else if (length == slots.length) { // a block more, as vLLM allocates while a request decodes
                long[] more = cache.allocate(bs);
                slots = Arrays.copyOf(slots, slots.length + more.length);
                System.arraycopy(more, 0, slots, slots.length - more.length, more.length);
                tokens = Arrays.copyOf(tokens, slots.length);
            }
            tokens[length++] = argmax(logits);
            produced++;
            if (!request.openEnded() && produced == request.outputTokens()) {
                phase = Phase.DONE;
            }
        }
    }

    /**
     * Serves {@code requests} with {@code strategy}, storing each prompt in {@code engine} once
     * it is prefilled (skipping the whole chunks that were loaded), until every request that is
     * not open-ended has finished or been aborted.
     */
    ServingRun run(List<ServingRequest> requests, LoadingStrategy strategy, CacheEngine engine) {
        int chunk = engine.config().chunkSize();
        Map<ServingRequest, Live> all = new LinkedHashMap<>();
        List<Live> running = new ArrayList<>();
        List<Live> draining = new ArrayList<>();
        List<ServingRun.Step> steps = new ArrayList<>();
        long start = System.nanoTime();
        for (int step = 0; !finished(requests, all, running, draining); ) {
            if (step > MAX_STEPS) {
                throw new IllegalStateException("the serving loop ran " + MAX_STEPS + " steps without finishing");
            }
            reservedBlocks = blocksToArrive(requests, all); // before the step's clock starts: not its work
            long t0 = System.nanoTime();
            List<Live> arrived = new ArrayList<>();
            for (ServingRequest r : requests) {
                if (!all.containsKey(r) && r.arrivalStep() <= step && finished(r.after(), all)) {
                    Live l = new Live(r, t0, step, strategy);
                    all.put(r, l);
                    arrived.add(l);
                    running.add(l);
                }
            }
            long begun = System.nanoTime();
            boolean loading = running.stream().anyMatch(l -> l.phase == Phase.LOADING && l.load.belowPool()
                    && (arrived.contains(l) || !l.load.landed()));
            for (Live l : List.copyOf(running)) {
                if (l.request.abortAtStep() == step) {
                    abort(l, running, draining);
                }
            }
            for (Live l : running) {
                if (l.phase == Phase.LOADING && l.load.landed()) {
                    l.computed = l.load.loadedTokens();
                    l.phase = Phase.PREFILL;
                }
            }
            int decoding = 0;
            int prefill = 0;
            int budget = stepTokens;
            List<Live> firstTokens = new ArrayList<>();
            for (Live l : running) {
                if (l.phase == Phase.DECODE) {
                    int m = l.length;
                    l.produce(model.prefill(Arrays.copyOf(l.tokens, m), Arrays.copyOf(l.slots, m), m - 1, cache));
                    l.computed = m;
                    decoding++;
                    budget--;
                }
            }
            for (Live l : running) {
                if (l.phase != Phase.PREFILL || budget <= 0) {
                    continue;
                }
                int n = l.request.prompt().length;
                int end = Math.min(n, l.computed + budget);
                float[] logits = model.prefill(Arrays.copyOf(l.tokens, end), Arrays.copyOf(l.slots, end), l.computed, cache);
                budget -= end - l.computed;
                prefill += end - l.computed;
                l.computed = end;
                if (l.firstTokenDue()) {
                    engine.store(l.request.prompt(), Arrays.copyOf(l.slots, n), l.load.loadedTokens() / chunk * chunk);
                    l.phase = Phase.DECODE;
                    l.produce(logits);
                    firstTokens.add(l);
                }
            }
            if (decoding == 0 && prefill == 0 && arrived.isEmpty()
                    && running.stream().anyMatch(l -> l.phase == Phase.LOADING)) {
                // Every request waits for its load: the engine polls, and no step passes (arrivals
                // are counted in steps: idle polls must not bring them sooner).
                LockSupport.parkNanos(IDLE_NANOS);
                freeSettled(draining);
                continue;
            }
            long t1 = System.nanoTime();
            firstTokens.forEach(l -> l.ttftNanos = t1 - l.arrivalNanos);
            steps.add(new ServingRun.Step(t0 - start, t1 - t0, decoding, prefill, loading, begun - t0));
            for (Live l : List.copyOf(running)) {
                if (l.phase == Phase.DONE) {
                    running.remove(l);
                    cache.free(l.slots);
                }
            }
            freeSettled(draining);
            step++;
        }
        for (Live l : running) { // open-ended requests: the run is over
            l.load.awaitSettled();
            cache.free(l.slots);
        }
        draining.forEach(l -> l.load.awaitSettled());
        freeSettled(draining);
        List<ServingRun.Outcome> outcomes = new ArrayList<>();
        for (ServingRequest r : requests) {
            Live l = all.get(r);
            long landed = l.aborted || l.load.loadedTokens() == 0 ? -1 : l.load.landedAtNanos();
            outcomes.add(new ServingRun.Outcome(r, l.arrivalStep, l.aborted ? 0 : l.load.loadedTokens(), l.load.belowPool(),
                    landed < 0 ? -1 : landed - l.loadBeganNanos, l.ttftNanos, l.logits, l.aborted, l.abortedWhileLoading));
        }
        return new ServingRun(strategy.name(), steps, outcomes);
    }

    /** A load that fails to begin leaves the request to compute its whole prompt, as vLLM recomputes a failed load. */
    private static KvLoad begin(LoadingStrategy strategy, ServingRequest request, long[] slots) {
        try {
            return strategy.begin(request.id(), request.prompt(), slots);
        } catch (RuntimeException e) {
            LOG.warn("the {} load of {} failed to begin; it computes its whole prompt: {}", strategy.name(), request.id(),
                    e.toString());
            return KvLoad.NONE;
        }
    }

    /** Every request has arrived, every one that is not open-ended has ended, and no aborted load still writes. */
    private static boolean finished(List<ServingRequest> requests, Map<ServingRequest, Live> all, List<Live> running,
                                    List<Live> draining) {
        return draining.isEmpty() && running.stream().allMatch(l -> l.request.openEnded())
                && all.size() == requests.size();
    }

    private static void abort(Live l, List<Live> running, List<Live> draining) {
        l.aborted = true;
        l.abortedWhileLoading = l.phase == Phase.LOADING && !l.load.landed();
        l.load.abort();
        running.remove(l);
        draining.add(l); // its blocks are freed once nothing writes into them any more
    }

    /** Whether the request {@code id} has produced its last token (true for no id). */
    private static boolean finished(String id, Map<ServingRequest, Live> all) {
        return id.isEmpty() || all.values().stream().anyMatch(l -> l.request.id().equals(id) && l.phase == Phase.DONE);
    }

    /** The blocks the requests still to arrive will take on arrival. */
    private int blocksToArrive(List<ServingRequest> requests, Map<ServingRequest, Live> all) {
        int bs = cache.layout().blockSize();
        int blocks = 0;
        for (ServingRequest r : requests) {
            if (!all.containsKey(r)) {
                blocks += (roundUp(r.prompt().length + Math.max(1, r.outputTokens()), bs) + bs - 1) / bs;
            }
        }
        return blocks;
    }

    private void freeSettled(List<Live> draining) {
        for (Live l : List.copyOf(draining)) {
            if (l.load.settled()) {
                draining.remove(l);
                cache.free(l.slots);
            }
        }
    }

    /** The logits' raw bits, to compare exactly (NaN payloads and signed zeros included). */
    static int[] bits(float[] logits) {
        int[] b = new int[logits.length];
        for (int i = 0; i < logits.length; i++) {
            b[i] = Float.floatToRawIntBits(logits[i]);
        }
        return b;
    }

    private static int argmax(float[] logits) {
        int best = 0;
        for (int i = 1; i < logits.length; i++) {
            if (logits[i] > logits[best]) {
                best = i;
            }
        }
        return best;
    }

    private static int roundUp(int n, int multiple) {
        return (n + multiple - 1) / multiple * multiple;
    }
}
