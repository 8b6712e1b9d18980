package org.lmcache4j;

import org.lmcache4j.keys.ChunkKey;

import java.util.Arrays;

/**
 * One chunk of the CPU tier: its key, the pool page that holds it (the entry owns one
 * reference to the page), and its token ids, checked on every hit so that a key collision can
 * never serve another prefix's KV. Guarded by the engine's index lock.
 */
final class ChunkEntry {
    final ChunkKey key;
    final int page;
    private final int[] tokens;
    private boolean published;
    /** Neighbours in the index's recency list, least recently used towards {@code older}. */
    ChunkEntry older;
    ChunkEntry newer;

    ChunkEntry(ChunkKey key, int page, int[] allTokens, int from, int to) {
        this.key = key;
        this.page = page;
        this.tokens = Arrays.copyOfRange(allTokens, from, to);
    }

    int tokenCount() {
        return tokens.length;
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
