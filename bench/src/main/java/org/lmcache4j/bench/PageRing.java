package org.lmcache4j.bench;

import org.lmcache4j.memory.SlabSource;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;

import java.lang.foreign.MemorySegment;

/**
 * The bare loops' stand-in for the engine's pool: one chunk-sized page per mapping, in one
 * huge-page mapping touched once, as large as the engine's pool. The engine writes each store
 * into the page its LRU frees, so its destinations turn over the whole pool; page {@code m}
 * serving mapping {@code m} turns the bare loops' destinations over the same amount of memory.
 */
@State(Scope.Benchmark)
public class PageRing {
    private final SlabSource memory = SlabSource.best();
    private MemorySegment ring;
    private long pageBytes;

    @Setup(Level.Trial)
    public void map(ScatteredCaches caches) {
        pageBytes = caches.chunkBytes();
        ring = memory.map(SlabSource.roundUpToHugePage(caches.mappings * pageBytes));
        memory.prefault(ring);
    }

    @TearDown(Level.Trial)
    public void unmap() {
        memory.unmap(ring);
    }

    MemorySegment page(int m) {
        return ring.asSlice(m * pageBytes, pageBytes);
    }
}
