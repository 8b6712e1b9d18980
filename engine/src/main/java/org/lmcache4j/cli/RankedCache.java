package org.lmcache4j.cli;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;
import java.util.function.IntUnaryOperator;

/**
 * The simulator's twin of the engine's {@code ShadowCache} over its {@code RankedOrder} (same
 * decisions, checked by {@code AdaptivePolicyMatchesEngineTest}): chunks in one order by (rank,
 * sequence), the lowest evicted first; time is a tick per prompt. A chunk's rank is its last use
 * minus {@code min(gap since its previous use, window)}, a first use having an infinite gap:
 * window 0 is LRU, an infinite window LRU-2. Ranks are clamped along the prompt and floored, so a
 * prefix always outranks its suffix; a full cache declines a new chunk that would not beat the
 * victim; uses of chunks no longer cached live on in a direct-mapped history table.
 */
final class RankedCache {
    static final long FIRST_USE_GAP = 1L << 40;
    static final int NEVER = Integer.MIN_VALUE;
    /** History slots per cached chunk (the engine's {@code AdaptivePolicy.HISTORY_PER_CHUNK}). */
    static final int HISTORY_PER_CHUNK = 32;

    private static final class Node {
        final int key;
        long rank;
        long seq;
        long floor = Long.MIN_VALUE;
        int last = NEVER;
        int prev = NEVER;

        Node(int key) {
            this.key = key;
        }
    }

    private final int capacity;
    private final IntUnaryOperator hash;
    private final Map<Integer, Node> nodes = new HashMap<>();
    private final TreeSet<Node> order = new TreeSet<>((a, b) -> a.rank != b.rank
            ? Long.compare(a.rank, b.rank) : Long.compare(a.seq, b.seq));
    private final long[] history;
    private final long window;
    private int now;
    private long seq;
    private long storeMark;

    /** Told of each chunk this cache admits and evicts (a follower tracks the chunks it lacks). */
    interface Listener {
        Listener NONE = new Listener() {
        };

        default void admitted(int key) {
        }

        default void evicted(int key) {
        }
    }

    Listener listener = Listener.NONE;
    /** The keys the last request declined. */
    private final java.util.Set<Integer> declined = new java.util.HashSet<>();

    /** Whether the last request declined {@code key}. */
    boolean declinedLast(int key) {
        return !declined.isEmpty() && declined.contains(key);
    }

    RankedCache(int capacity, long window, IntUnaryOperator hash) {
        this.capacity = capacity;
        this.window = window;
        this.hash = hash;
        int slots = (int) Math.min((long) HISTORY_PER_CHUNK * capacity, 1 << 22); // the engine's cap
        this.history = new long[Integer.highestOneBit(slots - 1 | 1) << 1];
    }

    boolean contains(int key) {
        return nodes.containsKey(key);
    }

    /** Looks the prompt up, then stores it whole, as the engine does; returns the leading hits. */
    int request(int[] keys) {
        now++;
        declined.clear();
        List<Node> present = new ArrayList<>();
        int lead = 0;
        while (lead < keys.length && nodes.containsKey(keys[lead])) {
            present.add(nodes.get(keys[lead++]));
        }
        use(present, true); // as the engine's shadows: the store's own first use of these is skipped
        List<Node> prompt = new ArrayList<>();
        for (int c = 0; c < keys.length; c++) {
            Node n = nodes.get(keys[c]);
            if (n == null) {
                Node previous = c == 0 ? null : nodes.get(keys[c - 1]);
                if (nodes.size() >= capacity) {
                    Node victim = order.first();
                    long rank = clamped(rank(now, remembered(keys[c])), previous);
                    if (rank < victim.rank || rank == victim.rank && victim.seq > storeMark) {
                        for (int d = c; d < keys.length; d++) {
                            if (!nodes.containsKey(keys[d])) {
                                remember(keys[d], now);
                                declined.add(keys[d]);
                            }
                        }
                        break;
                    }
                    order.remove(victim);
                    remember(victim.key, victim.last);
                    nodes.remove(victim.key);
                    listener.evicted(victim.key);
                }
                n = new Node(keys[c]);
                nodes.put(n.key, n);
                listener.admitted(n.key);
                n.prev = remembered(n.key);
                n.last = now;
                place(n, clamped(rank(n.last, n.prev), previous), ++seq, previous);
            }
            prompt.add(n);
        }
        use(prompt, true);
        return lead;
    }

    private void use(List<Node> prompt, boolean store) {
        if (store) {
            storeMark = seq;
        }
        long base = seq;
        seq += prompt.size();
        Node previous = null;
        for (int i = 0; i < prompt.size(); i++) {
            Node n = prompt.get(i);
            order.remove(n);
            if (n.last != now) {
                n.prev = n.last;
                n.last = now;
            }
            long r = Math.max(Math.min(rank(n.last, n.prev), previous == null ? Long.MAX_VALUE : previous.rank), n.floor);
            place(n, r, base + prompt.size() - i, previous);
            previous = n;
        }
    }

    private long rank(int last, int prev) {
        long gap = prev == NEVER ? FIRST_USE_GAP : (long) last - prev;
        return last - Math.min(gap, window);
    }

    private static long clamped(long rank, Node previous) {
        return previous == null ? rank : Math.min(rank, previous.rank);
    }

    private void place(Node n, long rank, long sequence, Node previous) {
        n.rank = rank;
        n.seq = sequence;
        order.add(n);
        if (previous != null && previous.floor < rank) {
            previous.floor = rank;
        }
    }

    private int remembered(int key) {
        int h = hash.applyAsInt(key);
        long slot = history[h & (history.length - 1)];
        return slot != 0 && (int) (slot >>> 32) == (h | 1) ? (int) slot : NEVER;
    }

    private void remember(int key, int tick) {
        if (tick != NEVER) {
            int h = hash.applyAsInt(key);
            history[h & (history.length - 1)] = ((long) (h | 1) << 32) | (tick & 0xffffffffL);
        }
    }
}
