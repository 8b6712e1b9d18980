package org.lmcache4j;

import org.lmcache4j.keys.ChunkKey;

import java.util.Arrays;

/**
 * One chunk of the CPU tier: its key, the pool page that holds it (the entry owns one
 * reference to the page), and its token ids, checked on every hit so that a key collision can
 * never serve another prefix's KV. Guarded by the engine's index lock.
 */
final class ChunkEntry extends RankedNode {
    /** The previous chunk's key (the scope's root for chunk 0), recorded when the chunk spills. */
    final ChunkKey parent;
    /** Whether this is a prompt's first chunk (its parent is the scope's root, not a chunk). */
    final boolean first;
    final int page;
    private final int[] tokens;
    private boolean published;
    /** Whether the disk tier holds this chunk too, so that its page can be freed without a write. */
    boolean onDisk;
    /** Whether a write of this chunk to disk is in flight. */
    boolean spilling;
    /**
     * Cached chunks that continue this one ({@link ChunkIndex} counts them): while one is, this
     * chunk is not a victim, so that a suffix that cannot go (leased) never outlives its prefix.
     */
    int children;
    /** Neighbours in LRU's and FIFO's list ({@link ListOrder}), evicted first towards {@code older}. */
    ChunkEntry older;
    ChunkEntry newer;
    /** Its key's slot under {@code cache_policy: ADAPTIVE} ({@link AdaptivePolicy}), else null. */
    AdaptiveSlot adaptive;

    ChunkEntry(ChunkKey key, ChunkKey parent, int page, int[] allTokens, int from, int to) {
        super(key);
        this.parent = parent;
        this.first = from == 0;
        this.page = page;
        this.tokens = Arrays.copyOfRange(allTokens, from, to);
    }

    int tokenCount() {
        return tokens.length;
    }

    /** The chunk's token ids (not a copy: do not modify). */
    int[] tokens() {
        return tokens;
    }

    /** Whether the chunk's bytes are complete and it may be served. */
    boolean published() {
        return published;
    }

    void publish() {
        published = true;
    }

    /** Whether this entry holds exactly {@code all[from, to)}. */
    boolean holds(int[] all, int from, int to) {
        return Arrays.equals(tokens, 0, tokens.length, all, from, to);
    }
}
