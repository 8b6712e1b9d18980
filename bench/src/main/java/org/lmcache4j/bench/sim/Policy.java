package org.lmcache4j.bench.sim;

/**
 * An eviction policy over a cache of {@code capacity} chunks (all chunks the same size, as pool
 * pages are). The simulator asks which of a request's chunks are {@link #contains present}, then
 * {@link #apply applies} the request: by default the hits are reported from the last chunk to the
 * first, then the misses are inserted, also from the last to the first (the engine's rule: a
 * prompt's prefix ends most recently used, since a suffix without its prefix never hits).
 */
interface Policy {
    String name();

    boolean contains(int key);

    /** A chunk that was present when the request looked up. */
    void hit(int key);

    /** A chunk that was missing: cache it (or decline to), evicting as needed. */
    void insert(int key);

    default void apply(int[] keys, boolean[] present) {
        for (int i = keys.length - 1; i >= 0; i--) {
            if (present[i]) {
                hit(keys[i]);
            }
        }
        for (int i = keys.length - 1; i >= 0; i--) {
            if (!present[i]) {
                insert(keys[i]);
            }
        }
    }
}
