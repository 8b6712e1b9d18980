package org.lmcache4j;

import org.lmcache4j.keys.ChunkKey;

import java.util.List;

/**
 * {@code cache_policy: ADAPTIVE}: LRU until two miniature shadows show that LRU-2 with history
 * serves this traffic better, then LRU-2.
 *
 * <h2>Why</h2>
 * On production conversation traffic (Mooncake's trace) most of a prompt is its own new tail, and
 * three in four of those chunks are never asked for again; the reuse that matters is a
 * conversation coming back minutes later, hundreds of prompts on. LRU keeps the newest tails and
 * loses every conversation that takes longer than the pool's turnover to come back. LRU-2 ranks a
 * chunk by the use before its last: a chunk used once ranks below every chunk used twice, so the
 * one-off tails go first and declined when the pool is full of reused chunks, while a conversation
 * that came back keeps its place for about as long as it took to come back. A history of recent
 * uses (see {@link RankedOrder}) makes a declined or evicted chunk count as reused when it returns.
 * On the Mooncake trace the engine under {@code replay --trace} serves 1.73x LRU's hit tokens at 1M
 * tokens of pool and 1.30x at 2.5M; other samples of the shadows give 1.43x-1.80x and 1.00x-1.37x
 * (docs/benchmarks.md, "Policies").
 *
 * <h2>Why adaptive</h2>
 * On traffic where a chunk's uses are numbered (a document asked exactly k questions), being
 * reused predicts being nearly done, and LRU-2 loses to LRU. So, in the spirit of Caffeine's
 * adaptive window and of set dueling, two key-only {@link ShadowCache}s, at 1/{@value #SAMPLE} of
 * the pool, replay the prompts whose chunk at depth {@value #SAMPLE_DEPTH} (the last chunk of a
 * shorter prompt) hashes into 1/{@value #SAMPLE}: one under LRU, one under LRU-2. Sampling by a
 * chunk the prompt shares with its conversation keeps conversations whole in the sample, so the
 * shadows see the same reuse the pool does, scaled. The pool ranks by LRU-2 while the LRU-2 shadow
 * has served more leading chunks than the LRU one by a margin (a quarter of a shadow, at least
 * {@value #MIN_MARGIN} chunks: a few prompts, not noise), else by LRU. Small or short traffic
 * never leaves LRU. A switch re-ranks chunks as they are used; contiguity holds throughout (see
 * {@link RankedOrder}).
 *
 * <h2>Cost</h2>
 * O(1) list moves per chunk used and O(log ranks) per distinct rank (see {@link RankedOrder}); per
 * cached chunk about 56 bytes of ranks and links, plus
 * {@value #HISTORY_PER_CHUNK} history slots of 8 bytes (32 MiB at most; the history must span the minutes after
 * which conversations come back; 16 slots lose a fifth to a third of the gain); the shadows add a sixteenth of
 * that, and a sampled prompt is replayed twice more.
 */
final class AdaptivePolicy extends RankedPolicy {
    static final int SAMPLE = 16;
    static final int SAMPLE_DEPTH = 4;
    static final long MIN_MARGIN = 64;
    static final int HISTORY_PER_CHUNK = 32;
    static final RankRule LRU = new RankRule.Window(0);
    static final RankRule LRU2 = new RankRule.Window(Long.MAX_VALUE / 4);

    private final ShadowCache lru;
    private final ShadowCache lru2;
    private final long margin;
    /** Leading chunks the LRU-2 shadow served minus the LRU shadow's. */
    private long score;

    AdaptivePolicy(int capacity) {
        super(new RankedOrder<>(LRU, (long) HISTORY_PER_CHUNK * capacity));
        int shadow = Math.max(1, capacity / SAMPLE);
        this.lru = new ShadowCache(shadow, LRU, (long) HISTORY_PER_CHUNK * shadow);
        this.lru2 = new ShadowCache(shadow, LRU2, (long) HISTORY_PER_CHUNK * shadow);
        this.margin = Math.max(MIN_MARGIN, shadow / 4);
    }

    /** Whether a prompt whose sampling chunk has this {@link RankedNode#hash} feeds the shadows. */
    static boolean sampled(int hash) {
        return ((hash >>> 8) & (SAMPLE - 1)) == 0;
    }

    /** Whether the pool ranks by LRU-2 now. */
    boolean lru2() {
        return order.rule() == LRU2;
    }

    @Override
    public String name() {
        return "ADAPTIVE";
    }

    @Override
    public void lookedUp(ChunkKey[] keys, List<ChunkEntry> leadingHits) {
        if (keys.length > 0 && sampled(RankedNode.hash(keys[Math.min(keys.length - 1, SAMPLE_DEPTH)]))) {
            score += lru2.request(keys) - lru.request(keys);
            order.rule(score > margin ? LRU2 : LRU);
        }
        order.tick();
        order.use(leadingHits, false);
    }
}
