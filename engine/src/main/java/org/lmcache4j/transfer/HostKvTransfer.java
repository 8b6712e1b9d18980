package org.lmcache4j.transfer;

import org.lmcache4j.CudaStream;

import java.lang.foreign.MemorySegment;
import java.util.function.Consumer;

/**
 * Transfers between paged caches in host memory and pool pages: one {@link MemorySegment#copy}
 * per run of adjacent rows, per layer and plane. A Mistral-7B chunk from 16-token blocks is
 * 32 layers × 2 planes × 16 runs = 1024 copies of 32 KiB, close to what a bare loop of copies
 * over the same addresses achieves (see docs/benchmarks.md). Every copy runs in the call.
 */
public final class HostKvTransfer implements KvTransfer {

    @Override
    public TransferBatch begin(PagedCaches caches, long[] slots, CudaStream stream) {
        return batch(caches, slots, 0, caches.layout().numLayers());
    }

    @Override
    public TransferBatch beginLayer(PagedCaches caches, long[] slots, CudaStream stream, int layer) {
        return batch(caches, slots, layer, layer + 1);
    }

    /** A batch over layers {@code [firstLayer, endLayer)}: every copy runs in its call. */
    private static TransferBatch batch(PagedCaches caches, long[] slots, int firstLayer, int endLayer) {
        return new TransferBatch() {
            @Override
            public void gather(int from, int to, MemorySegment page) {
                copy(caches, slots, from, to, page, true, firstLayer, endLayer);
            }

            @Override
            public void scatter(MemorySegment page, int from, int to) {
                copy(caches, slots, from, to, page, false, firstLayer, endLayer);
            }

            @Override
            public void finish(Consumer<Throwable> landed) {
                landed.accept(null);
            }
        };
    }

    @Override
    public void checkStream(CudaStream stream) {
        if (!stream.isDefault()) {
            throw new IllegalArgumentException(stream + " was given, but the KV caches are host memory:"
                    + " there is no device work to order with (pass the default stream, 0)");
        }
    }

    private static void copy(PagedCaches caches, long[] slots, int from, int to, MemorySegment page,
                             boolean toPage, int firstLayer, int endLayer) {
        ChunkFormat chunk = new ChunkFormat(caches.layout());
        SlotRuns runs = SlotRuns.of(slots, from, to, caches.layout().blockSize(), caches.contiguousAcrossBlocks());
        int tokens = to - from;
        long row = chunk.rowBytes();
        int n = runs.count;
        int planes = chunk.planes();
        // Offsets are the same for every layer but for a shift of the page offset: work them out once.
        long[] cacheOff = new long[planes * n];
        long[] pageOff = new long[planes * n];
        long[] bytes = new long[n];
        for (int r = 0; r < n; r++) {
            bytes[r] = runs.length[r] * row;
            for (int plane = 0; plane < planes; plane++) {
                cacheOff[plane * n + r] = caches.offset(plane, runs.slotStart[r]);
                pageOff[plane * n + r] = chunk.offset(plane, 0, runs.tokenStart[r], tokens);
            }
        }
        long layerShift = chunk.offset(0, 1, 0, tokens);
        for (int layer = firstLayer; layer < endLayer; layer++) {
            MemorySegment cache = caches.layer(layer);
            long shift = layer * layerShift;
            for (int i = 0; i < planes * n; i++) {
                long len = bytes[i % n];
                if (toPage) {
                    MemorySegment.copy(cache, cacheOff[i], page, pageOff[i] + shift, len);
                } else {
                    MemorySegment.copy(page, pageOff[i] + shift, cache, cacheOff[i], len);
                }
            }
        }
    }

    @Override
    public String describe() {
        return "host";
    }
}
