package org.lmcache4j.disk;

import org.lmcache4j.DiskStats;
import org.lmcache4j.keys.ChunkKey;

import java.lang.foreign.MemorySegment;
import java.util.concurrent.Executor;

/**
 * A tier below the CPU pool that chunks spill to and are promoted from. {@link #NONE} stands in
 * when no such tier is configured, so the engine never checks for one.
 */
public interface SpillTier extends AutoCloseable {
    boolean enabled();

    /** Whether a record of {@code key} holding {@code tokens} tokens is indexed (and touches it). */
    boolean contains(ChunkKey key, int tokens);

    /** Whether a record of {@code key} holding {@code tokens} tokens is indexed, without touching it. */
    boolean holds(ChunkKey key, int tokens);

    /** Protects {@code key}'s record from deletion until {@link #endRead}; false if it is gone. */
    boolean beginRead(ChunkKey key);

    void endRead(ChunkKey key);

    /**
     * Reads {@code key}'s record into {@code chunkOut}, checking every checksum and that it holds
     * exactly {@code tokens[from, to)}; false (a counted miss) on any failure. Needs {@link #beginRead}.
     */
    boolean read(ChunkKey key, int[] tokens, int from, int to, MemorySegment chunkOut);

    /**
     * Whether writes are worth trying: false while the tier skips them after a failure (read-only
     * or failing device) until it finds the directory writable again.
     */
    boolean writable();

    /** Writes a chunk's record; false when it could not be written (counted). */
    boolean write(ChunkKey key, ChunkKey parent, int[] tokens, MemorySegment chunk);

    /** Where the tier's writes run, in parallel. */
    Executor io();

    /** Where the tier's reads run: threads of their own, so that a retrieve never queues behind spills. */
    Executor readIo();

    DiskStats stats();

    /** One phrase for the start-up log's list of tiers; empty for {@link #NONE}. */
    String describe();

    @Override
    void close();

    SpillTier NONE = new SpillTier() {
        public boolean enabled() { return false; }
        public boolean contains(ChunkKey key, int tokens) { return false; }
        public boolean holds(ChunkKey key, int tokens) { return false; }
        public boolean beginRead(ChunkKey key) { return false; }
        public void endRead(ChunkKey key) { }
        public boolean read(ChunkKey key, int[] tokens, int from, int to, MemorySegment chunkOut) { return false; }
        public boolean writable() { return false; }
        public boolean write(ChunkKey key, ChunkKey parent, int[] tokens, MemorySegment chunk) { return false; }
        public Executor io() { return Runnable::run; }
        public Executor readIo() { return Runnable::run; }
        public DiskStats stats() { return DiskStats.NONE; }
        public String describe() { return ""; }
        public void close() { }
    };
}
