package org.lmcache4j.memory;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Portable slabs from {@link Arena#ofShared()}: used where libc's mmap cannot be bound. The arena
 * zero-fills at allocation, so mapping pays the first touch that {@link MmapSlabSource} defers.
 */
final class ArenaSlabSource implements SlabSource {
    private final Map<Long, Arena> arenas = new ConcurrentHashMap<>();

    @Override
    public MemorySegment map(long bytes) {
        Arena arena = Arena.ofShared();
        MemorySegment slab = arena.allocate(bytes, HUGE_PAGE);
        arenas.put(slab.address(), arena);
        return slab;
    }

    @Override
    public void prefault(MemorySegment slab) {
        // Arena.allocate already zero-filled (touched) the whole slab; one write keeps the contract obvious.
        slab.set(ValueLayout.JAVA_BYTE, 0, (byte) 0);
    }

    @Override
    public void unmap(MemorySegment slab) {
        Arena arena = arenas.remove(slab.address());
        if (arena != null) {
            arena.close();
        }
    }

    @Override
    public String describe() {
        return "arena";
    }
}
