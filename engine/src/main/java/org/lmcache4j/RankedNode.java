package org.lmcache4j;

import org.lmcache4j.keys.ChunkKey;

/**
 * What a {@link RankedOrder} knows of one chunk: a cached entry ({@link ChunkEntry}) or a shadow
 * cache's key-only node. A few longs and ints, read and written under the index lock.
 */
class RankedNode {
    static final int NEVER = Integer.MIN_VALUE;

    final ChunkKey key;
    /** Place in the order: the lowest rank, then the lowest sequence, is evicted first. */
    long rank;
    long seq;
    /** The highest rank ever clamped to this one: its own rank never drops below it (see RankedOrder). */
    long floor = Long.MIN_VALUE;
    /** Ticks of the last and the previous use ({@link #NEVER} if none). */
    int lastUse = NEVER;
    int previousUse = NEVER;
    /** Uses while cached (LFU's rank). */
    int uses;
    /** The rank's bucket in the order and the neighbours in it, lower sequence towards {@code before}. */
    RankedOrder.Bucket bucket;
    RankedNode before;
    RankedNode after;

    RankedNode(ChunkKey key) {
        this.key = key;
    }

    /** The key's 32 bits that history slots and shadow sampling use. */
    static int hash(ChunkKey key) {
        return (int) key.lo();
    }
}
