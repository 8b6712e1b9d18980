package org.lmcache4j;

import org.lmcache4j.keys.ChunkKey;

import java.util.ArrayList;
import java.util.List;
import java.util.TreeMap;
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
 * <p><b>Structure.</b> One bucket per rank in a red-black tree, each bucket a list in sequence
 * order: sequence numbers only grow, and a prompt's chunks are placed from the last (lowest new
 * sequence) to the first, so a placed chunk always joins its bucket's tail. A prompt's chunks
 * mostly share a rank (the tick that used them), so a use costs O(1) list moves and a tree
 * lookup per distinct rank, O(log ranks); not thread-safe: the engine's index lock guards it.
 */
final class RankedOrder<N extends RankedNode> {
    /** The chunks of one rank, in sequence order. */
    static final class Bucket {
        final long rank;
        RankedNode head;
        RankedNode tail;
        /** Taken out of the tree (emptied): a new chunk of this rank gets a new bucket. */
        boolean dropped;

        Bucket(long rank) {
            this.rank = rank;
        }
    }

    /** 32 MiB of history at most, whatever the pool (a pool of small chunks may hold millions). */
    static final long MAX_HISTORY_SLOTS = 1 << 22;

    private final TreeMap<Long, Bucket> buckets = new TreeMap<>();
    /** Buckets a use took chunks from (reused, not to allocate per use). */
    private final List<Bucket> left = new ArrayList<>();
    /** The bucket of the last chunk added: a store's new chunks mostly share it. */
    private Bucket lastAdded;
    private int size;
    private final long[] history;
    private RankRule rule;
    private int now;
    private long seq;
    /** The sequence before the last store's use: chunks above it are that store's prompt. */
    private long storeMark;

    RankedOrder(RankRule rule, long historySlots) {
        this.rule = rule;
        int slots = (int) Math.min(historySlots, MAX_HISTORY_SLOTS);
        this.history = new long[slots <= 0 ? 0 : Integer.highestOneBit(slots - 1 | 1) << 1];
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
        return size;
    }

    /**
     * Uses {@code prompt}'s chunks (in prompt order, all cached) and ranks them anew; {@code store}:
     * a store uses them before adding its new chunks, which must not take these chunks' pages on a
     * tie of ranks (see {@link #admits}).
     */
    void use(List<? extends N> prompt, boolean store) {
        if (store) {
            storeMark = seq;
        }
        RankedNode previous = null;
        for (N n : prompt) {
            if (n.bucket != null) {
                left.add(n.bucket);
                detach(n);
            }
            markUsed(n);
            n.rank = Math.max(Math.min(rule.rank(n), previous == null ? Long.MAX_VALUE : previous.rank), n.floor);
            raiseFloor(previous, n.rank);
            previous = n;
        }
        Bucket last = null;
        for (int i = prompt.size() - 1; i >= 0; i--) {
            N n = prompt.get(i);
            if (n.bucket == null) { // a chunk listed twice is placed once
                n.seq = ++seq;
                last = append(n, last);
            }
        }
        // buckets emptied for good only now: a prompt re-placed at its own rank keeps its bucket
        for (Bucket b : left) {
            dropIfEmpty(b);
        }
        left.clear();
    }

    /** Adds a new chunk, {@code previous} (or null) the cached chunk before it in its prompt. */
    void add(N n, RankedNode previous) {
        n.previousUse = remembered(n.key);
        n.lastUse = now;
        n.uses = 1;
        n.rank = clamped(rule.rank(n), previous);
        raiseFloor(previous, n.rank);
        n.seq = ++seq;
        lastAdded = append(n, lastAdded);
    }

    /**
     * Whether a new chunk after {@code previous} would outrank {@code victim} (the first one
     * evictable), or tie with it while the victim is not of the storing prompt (a tie with its own
     * prefix must keep the prefix; a tie with another prompt's chunk, as when no lookup moved the
     * clock between stores, must not freeze the pool).
     */
    boolean admits(ChunkKey key, RankedNode previous, RankedNode victim) {
        long rank = clamped(rule.rank(now, remembered(key), 1), previous);
        return rank > victim.rank || rank == victim.rank && victim.seq <= storeMark;
    }

    void remove(N n) {
        if (n.bucket != null) {
            unlink(n);
            remember(n.key, n.lastUse);
        }
    }

    /** A chunk the cache declined: its use now is remembered. */
    void declined(ChunkKey key) {
        remember(key, now);
    }

    /** The first of the order (lowest rank) that {@code test} accepts, or null. */
    @SuppressWarnings("unchecked")
    N first(Predicate<? super N> test) {
        for (Bucket b : buckets.values()) {
            for (RankedNode n = b.head; n != null; n = n.after) {
                if (test.test((N) n)) {
                    return (N) n;
                }
            }
        }
        return null;
    }

    /** Up to {@code max} of the order, lowest first, that {@code test} accepts. */
    @SuppressWarnings("unchecked")
    List<N> first(int max, Predicate<? super N> test) {
        List<N> out = new ArrayList<>();
        for (Bucket b : buckets.values()) {
            for (RankedNode n = b.head; n != null && out.size() < max; n = n.after) {
                if (test.test((N) n)) {
                    out.add((N) n);
                }
            }
        }
        return out;
    }

    void clear() {
        for (Bucket b : buckets.values()) {
            for (RankedNode n = b.head; n != null; ) {
                RankedNode next = n.after;
                n.bucket = null;
                n.before = n.after = null;
                n = next;
            }
        }
        buckets.values().forEach(b -> b.dropped = true);
        buckets.clear();
        size = 0;
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

    private static void raiseFloor(RankedNode previous, long rank) {
        if (previous != null && previous.floor < rank) {
            previous.floor = rank;
        }
    }

    /**
     * Puts {@code n} (its sequence the highest yet) at the tail of its rank's bucket; {@code hint}
     * may be that bucket, if still in the tree.
     */
    private Bucket append(RankedNode n, Bucket hint) {
        Bucket b = hint != null && hint.rank == n.rank && !hint.dropped ? hint : buckets.computeIfAbsent(n.rank, Bucket::new);
        n.bucket = b;
        n.before = b.tail;
        n.after = null;
        if (b.tail != null) {
            b.tail.after = n;
        } else {
            b.head = n;
        }
        b.tail = n;
        size++;
        return b;
    }

    private void unlink(RankedNode n) {
        Bucket b = n.bucket;
        if (b != null) {
            detach(n);
            dropIfEmpty(b);
        }
    }

    private void dropIfEmpty(Bucket b) {
        if (b.head == null && !b.dropped) {
            buckets.remove(b.rank);
            b.dropped = true;
        }
    }

    /** Takes {@code n} out of its bucket, which stays in the tree even if emptied. */
    private void detach(RankedNode n) {
        Bucket b = n.bucket;
        if (n.before != null) {
            n.before.after = n.after;
        } else {
            b.head = n.after;
        }
        if (n.after != null) {
            n.after.before = n.before;
        } else {
            b.tail = n.before;
        }
        n.bucket = null;
        n.before = n.after = null;
        size--;
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
