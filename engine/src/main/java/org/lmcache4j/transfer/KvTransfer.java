package org.lmcache4j.transfer;

import java.lang.foreign.MemorySegment;

/**
 * Moves one chunk between the paged caches and a pool page. Tokens {@code [from, to)} of a
 * request form the chunk; {@code slots[t]} is where token {@code t} lies in the paged caches
 * ({@code block_id * block_size + offset}), and a slot of {@code -1} means "not there": its row
 * is neither read nor written. Callers validate slots against the layout first.
 */
public interface KvTransfer extends AutoCloseable {
    /** Copies the chunk's rows from the paged caches into {@code page}, in {@link ChunkFormat}. */
    void gather(PagedCaches caches, long[] slots, int from, int to, MemorySegment page);

    /** Copies the chunk's rows from {@code page} back into the paged caches. */
    void scatter(MemorySegment page, PagedCaches caches, long[] slots, int from, int to);

    /** One word for logs: {@code host}, {@code cuda}. */
    String describe();

    /** Frees what the transfer holds (device streams, modules, buffers); the host transfer holds nothing. */
    @Override
    default void close() {
    }
}
