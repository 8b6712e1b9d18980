package org.lmcache4j;

import org.lmcache4j.keys.ChunkKey;

/**
 * Where the engine reports every chunk access of the CPU tier, in the order it makes them, for
 * offline study of eviction policies ({@code lmcache4j replay --dump-trace}). Disabled by default
 * as the {@link #NONE} null object, which costs one inlined no-op call per chunk. Called under the
 * engine's index lock: implementations must be quick and must not call back into the engine.
 */
public interface AccessTrace {
    /** What happened to a chunk. */
    enum Kind {
        /** {@code lookup} found the chunk in the CPU tier, within the prompt's cached prefix. */
        HIT,
        /** {@code retrieve} loads the chunk from the CPU tier. */
        RETRIEVE,
        /** {@code store} added a new chunk, or {@code retrieve} promoted one from the disk or remote tier. */
        STORE,
        /** {@code store} found the chunk already in the CPU tier (after a gap, or stored meanwhile). */
        TOUCH;

        /** The lower-case name the trace file uses. */
        public String label() {
            return name().toLowerCase(java.util.Locale.ROOT);
        }
    }

    /** Records an access to chunk {@code chunk} (from 0) of the current prompt, holding {@code tokens} tokens. */
    void record(int chunk, ChunkKey key, int tokens, Kind kind);

    /** Records nothing. */
    AccessTrace NONE = (chunk, key, tokens, kind) -> { };
}
