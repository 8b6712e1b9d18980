package org.lmcache4j;

import org.lmcache4j.keys.ChunkKey;

import java.util.List;
import java.util.function.Predicate;

/**
 * {@code cache_policy: ADAPTIVE}: two key-only shadows of the pool's size, one under LRU and one
 * under LRU-2, see every prompt; the pool follows the one that has been serving more.
 *
 * <h2>Why LRU-2</h2>
 * On production conversation traffic (Mooncake's trace) most of a prompt is its own new tail, and
 * three in four of those chunks are never asked for again; the reuse that matters is a
 * conversation coming back minutes later, hundreds of prompts on. LRU keeps the newest tails and
 * loses every conversation that takes longer than the pool's turnover to come back. LRU-2 ranks a
 * chunk by the use before its last: a chunk used once ranks below every chunk used twice, so the
 * one-off tails go first (or are declined when the pool is full of reused chunks), while a
 * conversation that came back keeps its place for about as long as it took to come back. A history
 * of recent uses (see {@link RankedOrder}) makes a declined or evicted chunk count as reused when
 * it returns. But where a chunk's uses are numbered (a document asked k questions), being reused
 * predicts being nearly done, and LRU-2 loses to LRU; and once the pool holds most of the reuse
 * (Mooncake at 5 M tokens and more) LRU-2's preference for old reuse costs more than it keeps.
 *
 * <h2>Why full shadows, and why the pool follows their content</h2>
 * An earlier ADAPTIVE dueled shadows at 1/16 of the pool fed 1/16 of the prompts, and switched the
 * pool's ranking rule: which conversations the sample caught decided the outcome (1.00x-1.37x LRU
 * at 2.5 M tokens over eleven samples), and a switched rule re-ranks a pool filled under the other
 * rule, which loses hits on both sides. Here the shadows see every prompt at the pool's own size,
 * so their counts are the two policies' hit counts on this very traffic (deterministic, no
 * sample), and the pool does not re-rank: it evicts first the chunks the leading shadow no longer
 * holds (in the order it dropped them) and declines the chunks it declined, so within a pool's
 * turnover the pool holds what the leader holds and serves what the leader serves. Pinned,
 * leased or continued chunks the leader dropped wait; the pool's own LRU order is the fallback
 * (stores without lookups, which the shadows never see).
 *
 * <h2>When to follow LRU-2</h2>
 * Per prompt, {@code d} = the LRU-2 shadow's leading hits minus the LRU shadow's. The pool follows
 * LRU-2 while the sum of {@code d} is positive and beyond {@value #Z} standard errors of it (sum
 * of d squared): a lead built on a handful of prompts, as on a document trace of a hundred
 * requests, is noise, and following it costs the hits lost while the pool turns over. The test is
 * repeated at every prompt, so it needs a wide margin: at 2 standard errors generated traces of
 * 150 to 400 requests lost up to 1.6 points to LRU, at 3 up to 0.8, at 3.5 nothing. Both sums
 * decay by 1/{@value #DECAY} a prompt, so a long-running server judges recent traffic. On the
 * Mooncake trace this serves 1.8x LRU's hit tokens at 1 M tokens of pool and 1.3x at 2.5 M,
 * equals LRU above, gains on chat traffic and never loses more than 0.5 points on our chat,
 * document and generated traces (docs/benchmarks.md, "Policies").
 *
 * <h2>Cost</h2>
 * Each lookup replays its prompt in both shadows: per chunk one hash lookup for its
 * {@link AdaptiveSlot} (shared by both shadows and the pool), O(1) list moves, a tree lookup per
 * distinct rank (see {@link RankedOrder}) and, in the LRU-2 shadow, a history read per chunk added
 * and a write per chunk evicted. On a full pool a new prompt of 32 chunks costs about 20 µs more
 * than under LRU (slots 2 µs, LRU-2 shadow 8 µs, LRU shadow 4 µs, the pool's lists the rest: a
 * hand-timed breakdown; the JMH figures are in docs/benchmarks.md, "Policies"), mostly cache
 * misses, since a store's copies push the shadows out of the CPU's caches. Memory per pool page:
 * a slot and two shadow nodes (about 250 bytes with the map entry) and
 * {@value #HISTORY_PER_CHUNK} history slots of 8 bytes (32 MiB at most); a page holds a chunk of
 * KV, megabytes for a 7B model.
 */
final class AdaptivePolicy implements EvictionPolicy {
    static final int HISTORY_PER_CHUNK = 32;
    static final double Z = 3.5;
    static final int DECAY = 4096;
    static final RankRule LRU = new RankRule.Window(0);
    static final RankRule LRU2 = new RankRule.Window(Long.MAX_VALUE / 4);

    /** The pool's own order: the fallback, and the order of the chunks the leader holds. */
    private final ListOrder pool = new ListOrder(true);
    private final ShadowDuel duel;

    AdaptivePolicy(int capacity) {
        this.duel = new ShadowDuel(capacity);
    }

    @Override
    public String name() {
        return "ADAPTIVE";
    }

    @Override
    public void lookedUp(ChunkKey[] keys, List<ChunkEntry> leadingHits) {
        duel.lookedUp(keys);
        pool.lookedUp(keys, leadingHits);
    }

    @Override
    public void used(List<ChunkEntry> entries, boolean storing) {
        pool.used(entries, storing);
    }

    @Override
    public void added(ChunkEntry entry, ChunkEntry previous) {
        pool.added(entry, previous);
        duel.added(entry);
    }

    @Override
    public void removed(ChunkEntry entry) {
        pool.removed(entry);
        duel.removed(entry);
    }

    /** Declines what the leader declined for the last prompt looked up; anything else may take a page. */
    @Override
    public boolean admits(ChunkKey key, ChunkEntry previous, ChunkEntry victim) {
        return !duel.leaderDeclined(key);
    }

    @Override
    public void declined(ChunkKey key) {
    }

    @Override
    public ChunkEntry first(Predicate<ChunkEntry> test) {
        return duel.first(pool, test);
    }

    @Override
    public List<ChunkEntry> first(int max, Predicate<ChunkEntry> test) {
        return duel.first(pool, max, test);
    }

    @Override
    public void clear() {
        pool.clear();
        duel.clear();
    }
}
