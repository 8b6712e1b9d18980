package org.lmcache4j.transfer;

import jcuda.Pointer;
import jcuda.driver.CUdeviceptr;
import jcuda.driver.CUstream;
import jcuda.driver.JCudaDriver;

import java.nio.ByteOrder;
import java.nio.LongBuffer;
import java.util.ArrayDeque;

/**
 * Where a request's slot mapping reaches the device: page-locked staging in host memory and a
 * device array, one pair per batch in flight. The whole mapping goes over in one asynchronous
 * copy on the transfer's stream when the batch begins, and each chunk's launch reads its slice;
 * a pair is reused only after its batch has landed, so nothing waits to overwrite it.
 */
final class SlotBuffers implements AutoCloseable {
    /** A staging/device pair holding up to {@code capacity} slots. */
    static final class Pair {
        final int capacity;
        final Pointer staging = new Pointer();
        final LongBuffer stagingView;
        final CUdeviceptr device = new CUdeviceptr();

        private Pair(int capacity) {
            this.capacity = capacity;
            JCudaDriver.cuMemAllocHost(staging, 8L * capacity);
            stagingView = staging.getByteBuffer(0, 8L * capacity).order(ByteOrder.nativeOrder()).asLongBuffer();
            try {
                JCudaDriver.cuMemAlloc(device, 8L * capacity);
            } catch (RuntimeException e) {
                JCudaDriver.cuMemFreeHost(staging);
                throw e;
            }
        }

        long deviceAddress() {
            return CudaHandles.address(device);
        }

        private void free() {
            JCudaDriver.cuMemFree(device);
            JCudaDriver.cuMemFreeHost(staging);
        }
    }

    private static final int MIN_CAPACITY = 4096;
    private final ArrayDeque<Pair> free = new ArrayDeque<>();

    /** A pair holding {@code slots}, queued for the device on {@code stream}. Context current. */
    Pair upload(long[] slots, CUstream stream) {
        Pair p = take(slots.length);
        try {
            p.stagingView.clear();
            p.stagingView.put(slots);
            JCudaDriver.cuMemcpyHtoDAsync(p.device, p.staging, 8L * slots.length, stream);
        } catch (RuntimeException e) {
            give(p); // nothing was queued that reads it
            throw e;
        }
        return p;
    }

    private Pair take(int slots) {
        synchronized (this) {
            for (var it = free.iterator(); it.hasNext(); ) {
                Pair p = it.next();
                if (p.capacity >= slots) {
                    it.remove();
                    return p;
                }
            }
        }
        return new Pair(Math.max(MIN_CAPACITY, Integer.highestOneBit(Math.max(1, slots - 1)) << 1));
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
