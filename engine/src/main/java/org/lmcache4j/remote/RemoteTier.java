package org.lmcache4j.remote;

import org.lmcache4j.RemoteStats;
import org.lmcache4j.keys.ChunkKey;

import java.lang.foreign.MemorySegment;
import java.util.List;

/**
 * A tier shared by many engines (Redis). Every call returns promptly and never throws into the
 * serving loop: a tier that is down or slow answers "not there" and drops writes, counted.
 * {@link #NONE} stands in when no {@code remote_url} is set.
 */
public interface RemoteTier extends AutoCloseable {
    /** A chunk to read: its key and token ids, and the page its bytes go to (exactly the chunk's size). */
    record Read(ChunkKey key, int[] tokens, int from, int to, MemorySegment page) {
    }

    /** Told the time of each batched read and each write that succeeded (the engine's metrics). */
    interface Timings {
        void read(long nanos);

        void write(long nanos);

        Timings NONE = new Timings() {
            public void read(long nanos) { }
            public void write(long nanos) { }
        };
    }

    /** Where to report each read batch's and each write's time from now on. */
    default void timings(Timings timings) {
    }

    boolean enabled();

    /** How many of {@code keys}, from the first, the tier holds: one batched query. */
    int leadingPresent(List<ChunkKey> keys);

    /**
     * Reads the records in one pipelined batch, verifying each (header, namespace, key, token ids,
     * size, checksum); returns how many, from the first, landed and verified.
     */
    int read(List<Read> reads);

    /**
     * Writes a chunk's record asynchronously; {@code done} runs once the chunk's memory is no
     * longer needed (written, failed, or dropped at once when too many writes are in flight).
     */
    void write(ChunkKey key, ChunkKey parent, int[] tokens, MemorySegment chunk, Runnable done);

    RemoteStats stats();

    /** One phrase for the start-up log; empty for {@link #NONE}. */
    String describe();

    @Override
    void close();

    RemoteTier NONE = new RemoteTier() {
        public boolean enabled() { return false; }
        public int leadingPresent(List<ChunkKey> keys) { return 0; }
        public int read(List<Read> reads) { return 0; }
        public void write(ChunkKey key, ChunkKey parent, int[] tokens, MemorySegment chunk, Runnable done) { done.run(); }
        public RemoteStats stats() { return RemoteStats.NONE; }
        public String describe() { return ""; }
        public void close() { }
    };
}
