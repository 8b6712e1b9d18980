package org.lmcache4j.transfer;

import jcuda.driver.CUstream;
import jcuda.driver.JCudaDriver;

/**
 * The DMA mode's copies: one {@code cuMemcpyAsync} per run of adjacent rows, per layer and plane,
 * between a device cache and a page-locked page (unified addressing tells the driver which side
 * is which).
 */
final class DmaRuns {
    private DmaRuns() {
    }

    /** The copies of layers {@code [firstLayer, endLayer)} of one chunk. */
    static void copy(PagedCaches caches, long[] slots, int from, int to, long page, boolean toPage, int firstLayer,
                     int endLayer, CUstream stream) {
        ChunkFormat chunk = new ChunkFormat(caches.layout());
        SlotRuns runs = SlotRuns.of(slots, from, to, caches.layout().blockSize(), caches.contiguousAcrossBlocks());
        int tokens = to - from;
        for (int layer = firstLayer; layer < endLayer; layer++) {
            long cache = caches.layer(layer).address();
            for (int plane = 0; plane < chunk.planes(); plane++) {
                for (int r = 0; r < runs.count; r++) {
                    long c = cache + caches.offset(plane, runs.slotStart[r]);
                    long p = page + chunk.offset(plane, layer, runs.tokenStart[r], tokens);
                    long bytes = runs.length[r] * chunk.rowBytes();
                    JCudaDriver.cuMemcpyAsync(CudaHandles.address(toPage ? p : c), CudaHandles.address(toPage ? c : p),
                            bytes, stream);
                }
            }
        }
    }
}
