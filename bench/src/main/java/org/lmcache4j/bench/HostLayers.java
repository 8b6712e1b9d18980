package org.lmcache4j.bench;

import org.lmcache4j.KvLayout;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;

/** Paged KV caches in host memory, one per layer, as the benchmarks register them with an engine. */
final class HostLayers {
    private HostLayers() {
    }

    /** One {@code layout.layerCacheBytes()} cache per layer from {@code arena}, 64-byte aligned. */
    static List<MemorySegment> allocate(Arena arena, KvLayout layout) {
        List<MemorySegment> layers = new ArrayList<>(layout.numLayers());
        for (int l = 0; l < layout.numLayers(); l++) {
            layers.add(arena.allocate(layout.layerCacheBytes(), 64));
        }
        return layers;
    }
}
