package org.lmcache4j.bench.gpu;

import jcuda.driver.CUevent;
import jcuda.driver.JCudaDriver;
import org.lmcache4j.CudaStream;
import org.lmcache4j.KvLayout;
import org.lmcache4j.transfer.CudaHandles;
import org.lmcache4j.transfer.CudaKvTransfer;
import org.lmcache4j.transfer.DeviceMemory;
import org.lmcache4j.transfer.PagedCaches;
import org.lmcache4j.transfer.TransferBatch;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;

/**
 * Store (gather) and retrieve (scatter) bandwidth of one Mistral-7B chunk (256 tokens, 32 MiB)
 * from scattered 16-token blocks, each mode against pinned {@code cuMemcpy} of the same bytes in
 * the same run (the baseline: goal ≥ 0.9), and how long the caller's stream is held per chunk:
 * the time between two events on it around one batch, with nothing else queued there. GPU only.
 */
final class GpuBandwidth {
    private static final int ITERATIONS = 40;

    private GpuBandwidth() {
    }

    static List<String> measure(DeviceMemory memory, byte[] fatbin) {
        KvLayout l = KvLayout.mistral7b(2048);
        Random rnd = new Random(42);
        List<String> lines = new ArrayList<>();
        long stream = memory.createStream();
        List<Long> device = new ArrayList<>();
        try (Arena arena = Arena.ofConfined()) {
            for (int layer = 0; layer < l.numLayers(); layer++) {
                long d = memory.allocate(l.layerCacheBytes());
                memory.fill(d, (byte) layer, l.layerCacheBytes());
                device.add(d);
            }
            PagedCaches caches = PagedCaches.ofAddresses(l, device.stream().mapToLong(Long::longValue).toArray());
            long bytes = l.chunkBytes(256);
            MemorySegment page = arena.allocate(bytes, 4096);
            memory.pin(page);
            long contiguous = memory.allocate(bytes);
            long[] slots = noHoles(l, rnd);
            try {
                double dtoh = gbps(bytes, () -> memory.download(contiguous, page, bytes, stream), () -> memory.synchronize(stream));
                double htod = gbps(bytes, () -> memory.upload(page, contiguous, bytes, stream), () -> memory.synchronize(stream));
                lines.add(String.format("bandwidth  cuMemcpy D->H pinned  %6.1f GB/s   (baseline for store)", dtoh));
                lines.add(String.format("bandwidth  cuMemcpy H->D pinned  %6.1f GB/s   (baseline for retrieve)", htod));
                for (CudaKvTransfer.Mode mode : CudaKvTransfer.Mode.values()) {
                    try (CudaKvTransfer cuda = new CudaKvTransfer(mode, () -> fatbin, memory.device(), device.getFirst())) {
                        cuda.prepare(caches);
                        long[] s = slots;
                        CudaStream caller = new CudaStream(stream);
                        double store = gbps(bytes, () -> batch(cuda.begin(caches, s, caller), b -> b.gather(0, 256, page)),
                                cuda::awaitIdle);
                        double retrieve = gbps(bytes, () -> batch(cuda.begin(caches, s, caller), b -> b.scatter(page, 0, 256)),
                                cuda::awaitIdle);
                        lines.add(String.format("bandwidth  %-6s store    %6.1f GB/s = %.2f of cuMemcpy (goal >= 0.90)",
                                mode, store, store / dtoh));
                        lines.add(String.format("bandwidth  %-6s retrieve %6.1f GB/s = %.2f of cuMemcpy (goal >= 0.90)",
                                mode, retrieve, retrieve / htod));
                        lines.add(String.format("stream     %-6s caller's stream held %.0f us per chunk (store), %.0f us (retrieve)",
                                mode, held(memory, stream, () -> batch(cuda.begin(caches, s, caller), b -> b.gather(0, 256, page))),
                                held(memory, stream, () -> batch(cuda.begin(caches, s, caller), b -> b.scatter(page, 0, 256)))));
                    }
                }
            } finally {
                memory.free(contiguous);
                memory.unpin(page);
            }
        } finally {
            device.forEach(memory::free);
            memory.destroyStream(stream);
        }
        return lines;
    }

    /** A chunk's slots in 16 distinct scattered blocks, as a busy server's allocator hands them out. */
    private static long[] noHoles(KvLayout l, Random rnd) {
        long[] slots = new long[256];
        long[] blocks = new long[16];
        for (int b = 0; b < 16; b++) {
            blocks[b] = rnd.nextInt(l.numBlocks() / 16) * 16L + b; // 16 distinct blocks, scattered
        }
        for (int t = 0; t < slots.length; t++) {
            slots[t] = blocks[t / 16] * 16 + t % 16;
        }
        return slots;
    }

    private static void batch(TransferBatch b, java.util.function.Consumer<TransferBatch> copies) {
        copies.accept(b);
        b.finish(failure -> {
            if (failure != null) {
                throw new IllegalStateException("copies failed on the device", failure);
            }
        });
    }

    /** GB/s of {@code op} moving {@code bytes}, {@link #ITERATIONS} times queued then waited for, after a warm-up. */
    private static double gbps(long bytes, Runnable op, Runnable waitAll) {
        for (int i = 0; i < 3; i++) {
            op.run();
        }
        waitAll.run();
        long start = System.nanoTime();
        for (int i = 0; i < ITERATIONS; i++) {
            op.run();
        }
        waitAll.run();
        return (double) bytes * ITERATIONS / (System.nanoTime() - start);
    }

    /** Microseconds between an event before one batch and one after it, both on the caller's (otherwise idle) stream. */
    private static double held(DeviceMemory memory, long stream, Runnable batch) {
        return memory.call(() -> heldInContext(memory, stream, batch));
    }

    private static double heldInContext(DeviceMemory memory, long stream, Runnable batch) {
        CUevent before = new CUevent();
        CUevent after = new CUevent();
        JCudaDriver.cuEventCreate(before, 0);
        JCudaDriver.cuEventCreate(after, 0);
        try {
            memory.synchronize(stream);
            JCudaDriver.cuEventRecord(before, CudaHandles.stream(stream));
            batch.run();
            JCudaDriver.cuEventRecord(after, CudaHandles.stream(stream));
            JCudaDriver.cuEventSynchronize(after);
            float[] ms = new float[1];
            JCudaDriver.cuEventElapsedTime(ms, before, after);
            return ms[0] * 1000;
        } finally {
            JCudaDriver.cuEventDestroy(before);
            JCudaDriver.cuEventDestroy(after);
        }
    }
}
