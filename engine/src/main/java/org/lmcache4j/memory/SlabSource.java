package org.lmcache4j.memory;

import java.lang.foreign.MemorySegment;

/**
 * Where the pool's slabs come from. A slab is mapped without being touched (so a 20 GB pool
 * costs nothing until it is used), faulted in by {@link #prefault} before any page of it is
 * handed out, and unmapped when the pool closes.
 */
public interface SlabSource {
    /** Slabs are aligned to this, the size of an x86-64 transparent huge page. */
    long HUGE_PAGE = 2L * 1024 * 1024;

    /** Maps {@code bytes} (a multiple of {@link #HUGE_PAGE}) of fresh memory, aligned to {@link #HUGE_PAGE}. */
    MemorySegment map(long bytes);

    /** Faults every page of a slab in, writable; contents are not preserved (nobody reads it yet). */
    void prefault(MemorySegment slab);

    void unmap(MemorySegment slab);

    /** One line for the start-up log. */
    String describe();

    /** Anonymous mappings advised for huge pages where libc is reachable, else arena memory. */
    static SlabSource best() {
        return Libc.load().<SlabSource>map(MmapSlabSource::new).orElseGet(ArenaSlabSource::new);
    }

    static long roundUpToHugePage(long bytes) {
        return (bytes + HUGE_PAGE - 1) / HUGE_PAGE * HUGE_PAGE;
    }
}
