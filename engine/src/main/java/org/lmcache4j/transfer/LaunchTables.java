package org.lmcache4j.transfer;

import jcuda.Pointer;
import jcuda.driver.CUdeviceptr;
import jcuda.driver.CUstream;
import jcuda.driver.JCudaDriver;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayDeque;
import java.util.List;

/**
 * What a batch's one kernel launch reads besides the caches and pages: the request's slot
 * mapping, its chunk table and the caches' layer addresses, staged in page-locked host memory and
 * copied to the device in one asynchronous copy on the transfer's stream, ahead of the launch.
 * Carrying the layer addresses with every batch (8 bytes a layer) means a re-registration can
 * never change what a batch in flight copies.
 *
 * <pre>
 *  staging / device:  [ slots: n × int64 ][ pad to 16 ][ chunks: k × kv_chunk ][ layers: L × uint64 ]
 *  kv_chunk (kv_index.h, 16 bytes):  0 page u64 │ 8 from i32 │ 12 tokens i32
 * </pre>
 *
 * One staging/device pair per batch in flight; a pair is reused only after its batch has landed,
 * so nothing waits to overwrite it.
 */
final class LaunchTables implements AutoCloseable {
    static final int CHUNK_BYTES = 16;
    private static final long MIN_BYTES = 64 * 1024;

    /** A chunk of the launch: its page's device-visible address and its tokens [from, from + tokens). */
    record Chunk(long page, int from, int tokens) {
    }

    /** A staging/device pair of {@code capacity} bytes, and where this batch's tables lie in it. */
    static final class Pair {
        final long capacity;
        final Pointer staging = new Pointer();
        final ByteBuffer view;
        final CUdeviceptr device = new CUdeviceptr();
        long chunksOffset;
        long layersOffset;

        private Pair(long capacity) {
            this.capacity = capacity;
            JCudaDriver.cuMemAllocHost(staging, capacity);
            view = staging.getByteBuffer(0, capacity).order(ByteOrder.LITTLE_ENDIAN);
            try {
                JCudaDriver.cuMemAlloc(device, capacity);
            } catch (RuntimeException e) {
                JCudaDriver.cuMemFreeHost(staging);
                throw e;
            }
        }

        long slots() {
            return CudaHandles.handle(device);
        }

        long chunks() {
            return CudaHandles.handle(device) + chunksOffset;
        }

        long layers() {
            return CudaHandles.handle(device) + layersOffset;
        }

        private void free() {
            JCudaDriver.cuMemFree(device);
            JCudaDriver.cuMemFreeHost(staging);
        }
    }

    private final ArrayDeque<Pair> free = new ArrayDeque<>();

    /** A pair holding the batch's tables, queued for the device on {@code stream}. Context current. */
    Pair upload(long[] slots, List<Chunk> chunks, PagedCaches caches, CUstream stream) {
        long chunksOffset = (8L * slots.length + 15) & -16L;
        long layersOffset = chunksOffset + (long) CHUNK_BYTES * chunks.size();
        int layers = caches.layout().numLayers();
        long bytes = layersOffset + 8L * layers;
        Pair p = take(bytes);
        try {
            p.chunksOffset = chunksOffset;
            p.layersOffset = layersOffset;
            p.view.clear();
            p.view.asLongBuffer().put(slots);
            p.view.position((int) chunksOffset);
            for (Chunk c : chunks) {
                p.view.putLong(c.page()).putInt(c.from()).putInt(c.tokens());
            }
            for (int l = 0; l < layers; l++) {
                p.view.putLong(caches.layer(l).address());
            }
            JCudaDriver.cuMemcpyHtoDAsync(p.device, p.staging, bytes, stream);
        } catch (RuntimeException e) {
            give(p); // nothing was queued that reads it
            throw e;
        }
        return p;
    }

    private Pair take(long bytes) {
        synchronized (this) {
            for (var it = free.iterator(); it.hasNext(); ) {
                Pair p = it.next();
                if (p.capacity >= bytes) {
                    it.remove();
                    return p;
                }
            }
        }
        return new Pair(Math.max(MIN_BYTES, Long.highestOneBit(Math.max(1, bytes - 1)) << 1));
    }

    /** Back for reuse, once the batch that used it has landed. */
    synchronized void give(Pair p) {
        free.push(p);
    }

    /** Frees every pair; the transfer is idle. Context current. */
    @Override
    public synchronized void close() {
        free.forEach(Pair::free);
        free.clear();
    }
}
