package org.lmcache4j.cli;

/**
 * A policy that keeps chunks in order of use and applies a request as the engine's store does
 * ({@code StoreOperation}): the chunks the prompt already has are touched from the last to the
 * first; its new chunks are added from the first to the last, each one evicting a victim when the
 * pool is full; then the whole prompt is touched from the last to the first again, so it ends with
 * its prefix the most recently used. A new chunk is leased while it is stored, so the victims are
 * only chunks that were there before the request; when none is left, the rest of the prompt is
 * not stored (the engine skips it and counts it). Subclasses say which of those chunks goes.
 */
abstract class RecencyPolicy implements SimulatedPolicy {
    protected final KeyList order;
    private final int capacity;

    RecencyPolicy(int capacity, int keys) {
        this.capacity = capacity;
        this.order = new KeyList(keys);
    }

    /**
     * The chunk to evict, among those from the oldest up to {@code newestEvictable} (the request's
     * new chunks come after it).
     */
    abstract int victim(int newestEvictable);

    /** The request needs room for {@code keys[index]}: {@link #victim} is asked next. */
    void makingRoom(int[] keys, int index) {
    }

    /** The request is about to add {@code keys[index]} (room made); a subclass may track it. */
    void adding(int[] keys, int index) {
    }

    /** {@code key} is about to be evicted; a subclass may track it. */
    void evicting(int key) {
    }

    /**
     * Whether the request may store {@code keys[index]} once room is made (else it and the rest of
     * the prompt are not stored); asked only of a full pool, after the victim was chosen.
     */
    boolean admits(int[] keys, int index) {
        return true;
    }

    /** Whether the prompt's cached prefix is kept while its new chunks are added, as the engine keeps it. */
    boolean sparesPromptPrefix() {
        return true;
    }

    @Override
    public boolean contains(int key) {
        return order.contains(key);
    }

    @Override
    public void hit(int key) {
        order.moveToLast(key);
    }

    @Override
    public void insert(int key) {
        if (order.size() >= capacity) {
            order.remove(victim(order.last()));
        }
        order.addLast(key);
    }

    @Override
    public void apply(int[] keys, boolean[] present) {
        for (int i = keys.length - 1; i >= 0; i--) {
            if (present[i]) {
                hit(keys[i]);
            }
        }
        // The prompt's cached prefix, just touched, is the newest end of the order; the engine never
        // evicts the chunk a new one continues, nor a chunk another cached chunk continues.
        int cachedPrefix = 0;
        while (sparesPromptPrefix() && cachedPrefix < keys.length && present[cachedPrefix]) {
            cachedPrefix++;
        }
        int newestEvictable = cachedPrefix == 0 ? order.last() : order.before(keys[cachedPrefix - 1]);
        int stored = keys.length;
        for (int i = 0; i < keys.length; i++) {
            if (present[i] || order.contains(keys[i])) {
                continue;
            }
            if (order.size() >= capacity) {
                if (newestEvictable == KeyList.NONE) {
                    stored = i; // every page holds a chunk of this request: the rest is skipped
                    break;
                }
                makingRoom(keys, i);
                int victim = victim(newestEvictable);
                if (victim == KeyList.NONE) {
                    stored = i;
                    break;
                }
                if (!admits(keys, i)) {
                    stored = i;
                    break;
                }
                if (victim == newestEvictable) {
                    newestEvictable = order.before(victim);
                }
                evicting(victim);
                order.remove(victim);
            }
            adding(keys, i);
            order.addLast(keys[i]);
        }
        for (int i = stored - 1; i >= 0; i--) {
            if (order.contains(keys[i])) {
                order.moveToLast(keys[i]);
            }
        }
    }
}
