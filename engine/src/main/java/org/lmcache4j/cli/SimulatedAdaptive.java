package org.lmcache4j.cli;

import java.util.function.IntUnaryOperator;

/**
 * The engine's {@code cache_policy: ADAPTIVE} in the simulator (same decisions, see the engine's
 * {@code AdaptivePolicy} for the design): a {@link RankedCache} whose window is LRU's (0) or
 * LRU-2's (infinite), whichever of two miniature shadows, at 1/{@value #SAMPLE} of the capacity and
 * fed the prompts whose sampling chunk hashes into 1/{@value #SAMPLE}, has been serving more.
 *
 * <p>The engine samples by its 128-bit chunk key; the simulator's chunks are small ints, so
 * {@code simulate} hashes those ({@link #mix}): another sample of the same rate, hence hit rates
 * within noise of the engine's on a given trace, not equal to the token. With the engine's own
 * key hashes ({@code AdaptivePolicyMatchesEngineTest}) the decisions are the engine's, request by
 * request.
 */
final class SimulatedAdaptive extends WholePromptPolicy {
    static final int SAMPLE = 16;
    static final int SAMPLE_DEPTH = 4;
    static final long INFINITE = Long.MAX_VALUE / 4;
    /** Chunks of evidence the shadows need before the cache leaves LRU: a few prompts, not noise. */
    static final long MIN_MARGIN = 64;

    private final RankedCache lru;
    private final RankedCache lru2;
    private final IntUnaryOperator hash;
    private final long margin;
    private long score;

    SimulatedAdaptive(int capacity, ChunkedTrace trace) {
        this(capacity, SimulatedAdaptive::mix);
    }

    /** {@code hash}: the key's 32-bit hash, as the engine takes it from the chunk key. */
    SimulatedAdaptive(int capacity, IntUnaryOperator hash) {
        super(new RankedCache(capacity, 0, hash, false));
        int shadow = Math.max(1, capacity / SAMPLE);
        this.lru = new RankedCache(shadow, 0, hash, true);
        this.lru2 = new RankedCache(shadow, INFINITE, hash, true);
        this.hash = hash;
        this.margin = Math.max(MIN_MARGIN, shadow / 4);
    }

    static int mix(int key) {
        int h = key * 0x9E3779B1;
        return h ^ (h >>> 16);
    }

    @Override
    public String name() {
        return "adaptive";
    }

    @Override
    public void apply(int[] keys, boolean[] present) {
        if (keys.length == 0) {
            return;
        }
        if (sampled(hash.applyAsInt(keys[Math.min(keys.length - 1, SAMPLE_DEPTH)]))) {
            score += lru2.request(keys) - lru.request(keys);
            cache.window = score > margin ? INFINITE : 0;
        }
        // the window changes before the pool's tick, as in the engine's lookup
        cache.request(keys);
    }

    /** Whether a prompt whose sampling chunk has this hash feeds the shadows. */
    static boolean sampled(int hash) {
        return ((hash >>> 8) & (SAMPLE - 1)) == 0;
    }
}
