package org.lmcache4j;

import org.lmcache4j.keys.ChunkKey;

import java.util.ArrayList;
import java.util.List;
import java.util.TreeSet;
import java.util.function.Predicate;

/**
 * Chunks in one order by (rank, sequence), the lowest evicted first; the rank comes from a
 * {@link RankRule} over each chunk's uses. Time is a tick per prompt looked up.
 *
 * <p><b>Prefix contiguity by construction.</b> A suffix without its prefix never hits, so a
 * prefix must never go before its suffix. Every prompt's chunks are ranked in prompt order, each
 * clamped to at most the rank of the chunk before it (a suffix never outranks its prefix when
 * ranked) and floored to at least the highest rank ever clamped to it (a prefix re-ranked later
 * on its own, by a rule whose rank can fall, such as MRU, or after its history was forgotten, never
 * drops below a suffix still cached). Sequence numbers run from a prompt's last chunk to its first,
 * so of equal ranks the deepest chunk goes first. A stale floor only keeps a prefix longer.
 *
 * <p><b>Admission.</b> When the pool is full, a new chunk whose rank would not beat the victim's
 * is declined ({@link #admits}): the rest of its prompt ranks no higher and is declined too, and
 * their use is remembered, so that a chunk declined once and asked for again ranks as reused.
 *
 * <p><b>History.</b> The last use of chunks no longer cached lives on in a direct-mapped table
 * of {@code historySlots} longs (32-bit fingerprint, 32-bit tick): a chunk that comes back after
 * minutes is known as reused. A collision forgets, a wrong fingerprint match is one chance in 2^32.
 *
 * <p>O(log n) per chunk touched (a red-black tree); not thread-safe: the engine's index lock guards it.
 */
final class RankedOrder<N extends RankedNode> {
    private final TreeSet<N> order = new TreeSet<>((a, b) -> a.rank != b.rank
            ? Long.compare(a.rank, b.rank) : Long.compare(a.seq, b.seq));
    private final long[] history;
    private RankRule rule;
    private int now;
    private long seq;

    RankedOrder(RankRule rule, int historySlots) {
        this.rule = rule;
        this.history = new long[historySlots <= 0 ? 0 : Integer.highestOneBit(historySlots - 1 | 1) << 1];
    }

    void rule(RankRule next) {
        rule = next;
    }

    RankRule rule() {
        return rule;
    }

    /** A prompt was looked up: the clock moves, so its chunks' uses count anew. */
    void tick() {
        now++;
    }

    int size() {
        return order.size();
    }

    /** Uses {@code prompt}'s chunks (in prompt order, all cached) and ranks them anew. */
    void use(List<? extends N> prompt) {
        long base = seq;
        seq += prompt.size();
        RankedNode previous = null;
        for (int i = 0; i < prompt.size(); i++) {
            N n = prompt.get(i);
            order.remove(n);
            markUsed(n);
            long r = Math.max(Math.min(rule.rank(n), previous == null ? Long.MAX_VALUE : previous.rank), n.floor);
            place(n, r, base + prompt.size() - i, previous);
            previous = n;
        }
    }

    /** Adds a new chunk, {@code previous} (or null) the cached chunk before it in its prompt. */
    void add(N n, RankedNode previous) {
        n.previousUse = remembered(n.key);
        n.lastUse = now;
        n.uses = 1;
        place(n, clamped(rule.rank(n), previous), ++seq, previous);
    }

    /** Whether a new chunk after {@code previous} would outrank {@code victim} (the first one evictable). */
    boolean admits(ChunkKey key, RankedNode previous, RankedNode victim) {
        RankedNode candidate = new RankedNode(key);
        candidate.previousUse = remembered(key);
        candidate.lastUse = now;
        candidate.uses = 1;
        return clamped(rule.rank(candidate), previous) > victim.rank;
    }

    void remove(N n) {
        if (order.remove(n)) {
            remember(n.key, n.lastUse);
        }
    }

    /** A chunk the cache declined: its use now is remembered. */
    void declined(ChunkKey key) {
        remember(key, now);
    }

    /** The first of the order (lowest rank) that {@code test} accepts, or null. */
    N first(Predicate<? super N> test) {
        for (N n : order) {
            if (test.test(n)) {
                return n;
            }
        }
        return null;
    }

    /** Up to {@code max} of the order, lowest first, that {@code test} accepts. */
    List<N> first(int max, Predicate<? super N> test) {
        List<N> out = new ArrayList<>();
        for (N n : order) {
            if (out.size() >= max) {
                break;
            }
            if (test.test(n)) {
                out.add(n);
            }
        }
        return out;
    }

    void clear() {
        order.clear();
    }

    private void markUsed(RankedNode n) {
        if (n.lastUse != now) {
            n.previousUse = n.lastUse;
            n.lastUse = now;
            n.uses++;
        }
    }

    private static long clamped(long rank, RankedNode previous) {
        return previous == null ? rank : Math.min(rank, previous.rank);
    }

    private void place(N n, long rank, long sequence, RankedNode previous) {
        n.rank = rank;
        n.seq = sequence;
        order.add(n);
        if (previous != null && previous.floor < rank) {
            previous.floor = rank;
        }
    }

    private int remembered(ChunkKey key) {
        if (history.length == 0) {
            return RankedNode.NEVER;
        }
        int h = RankedNode.hash(key);
        long slot = history[h & (history.length - 1)];
        return slot != 0 && (int) (slot >>> 32) == (h | 1) ? (int) slot : RankedNode.NEVER;
    }

    private void remember(ChunkKey key, int tick) {
        if (history.length > 0 && tick != RankedNode.NEVER) {
            int h = RankedNode.hash(key);
            history[h & (history.length - 1)] = ((long) (h | 1) << 32) | (tick & 0xffffffffL);
        }
    }
}
