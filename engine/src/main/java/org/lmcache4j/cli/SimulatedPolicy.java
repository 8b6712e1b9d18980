package org.lmcache4j.cli;

/**
 * An eviction policy over a pool of {@code capacity} chunks, as {@code simulate} runs it (every
 * chunk takes one pool page, partial or not). The simulator asks which of a request's chunks are
 * {@link #contains present}, counts the leading run of them as the hit, then {@link #apply applies}
 * the request. By default the present chunks are reported {@link #hit} from the last to the
 * first, then the missing ones {@link #insert inserted}, also from the last to the first: a
 * prompt's prefix ends the most recently seen, since a suffix without its prefix never hits.
 * A policy that must see a prompt whole (as {@code adaptive}'s shadows do) overrides
 * {@link #apply} and takes the prompt at once.
 */
interface SimulatedPolicy {
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
