package org.lmcache4j;

import org.lmcache4j.keys.ChunkKey;

/**
 * One change to what the CPU tier holds, as a KV-aware router wants to hear it (vLLM's
 * {@code BlockStored}, {@code BlockRemoved}, {@code AllBlocksCleared}), in the order the engine made
 * the changes. Recorded only while {@link CacheEngine#recordKvEvents} is on.
 *
 * @param kind   what happened
 * @param key    the chunk's key ({@code null} for {@link Kind#CLEARED} and {@link Kind#LOST})
 * @param parent the previous chunk's key for {@link Kind#STORED}; {@code null} for a prompt's first chunk
 * @param tokens the chunk's token ids for {@link Kind#STORED} (not a copy: do not modify); else empty
 * @param lost   for {@link Kind#LOST}: how many events were dropped at this point because nobody took them
 */
public record KvEvent(Kind kind, ChunkKey key, ChunkKey parent, int[] tokens, long lost) {
    private static final int[] NO_TOKENS = new int[0];

    /** What happened to the CPU tier. */
    public enum Kind {
        /** A chunk became servable: stored, or promoted from the disk or remote tier. */
        STORED(1),
        /** A servable chunk left the CPU tier: evicted, spilled to disk, or dropped. */
        REMOVED(2),
        /** Every chunk was dropped ({@link CacheEngine#clear}). */
        CLEARED(3),
        /** Events are missing here: the queue was full. A router should not trust what it knows. */
        LOST(4);

        /** The kind's number in the C ABI's event records. */
        public final int code;

        Kind(int code) {
            this.code = code;
        }
    }

    static KvEvent stored(ChunkEntry e) {
        return new KvEvent(Kind.STORED, e.key, e.first ? null : e.parent, e.tokens(), 0);
    }

    static KvEvent removed(ChunkEntry e) {
        return new KvEvent(Kind.REMOVED, e.key, null, NO_TOKENS, 0);
    }

    static KvEvent cleared() {
        return new KvEvent(Kind.CLEARED, null, null, NO_TOKENS, 0);
    }

    static KvEvent lost(long n) {
        return new KvEvent(Kind.LOST, null, null, NO_TOKENS, n);
    }
}
