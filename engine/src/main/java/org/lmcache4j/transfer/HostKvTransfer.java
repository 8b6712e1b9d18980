package org.lmcache4j.transfer;

import java.lang.foreign.MemorySegment;

/**
 * Transfers between paged caches in host memory and pool pages: one {@link MemorySegment#copy}
 * per run of adjacent rows, per layer and plane. A Mistral-7B chunk from 16-token blocks is
 * 32 layers × 2 planes × 16 runs = 1024 copies of 32 KiB, close to what a bare loop of copies
 * over the same addresses achieves (see docs/benchmarks.md).
 */
public final class HostKvTransfer implements KvTransfer {

    @Override
    public void gather(PagedCaches caches, long[] slots, int from, int to, MemorySegment page) {
        copy(caches, slots, from, to, page, true);
    }

    @Override
    public void scatter(MemorySegment page, PagedCaches caches, long[] slots, int from, int to) {
        copy(caches, slots, from, to, page, false);
    }

    private static void copy(PagedCaches caches, long[] slots, int from, int to, MemorySegment page,
                             boolean toPage) {
        ChunkFormat chunk = new ChunkFormat(caches.layout());
        SlotRuns runs = SlotRuns.of(slots, from, to, caches.layout().blockSize(), caches.contiguousAcrossBlocks());
        int tokens = to - from;
        long row = chunk.rowBytes();
        for (int layer = 0; layer < chunk.layers(); layer++) {
            MemorySegment cache = caches.layer(layer);
            for (int plane = 0; plane < chunk.planes(); plane++) {
                for (int r = 0; r < runs.count; r++) {
                    long cacheOff = caches.offset(plane, runs.slotStart[r]);
                    long pageOff = chunk.offset(plane, layer, runs.tokenStart[r], tokens);
                    long bytes = runs.length[r] * row;
                    if (toPage) {
                        MemorySegment.copy(cache, cacheOff, page, pageOff, bytes);
                    } else {
                        MemorySegment.copy(page, pageOff, cache, cacheOff, bytes);
                    }
                }
            }
        }
    }

    @Override
    public String describe() {
        return "host";
    }
}
