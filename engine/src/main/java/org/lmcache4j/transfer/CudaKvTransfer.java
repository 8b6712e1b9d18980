package org.lmcache4j.transfer;

import jcuda.Pointer;
import jcuda.driver.CUcontext;
import jcuda.driver.CUdevice;
import jcuda.driver.CUdeviceptr;
import jcuda.driver.CUevent;
import jcuda.driver.CUfunction;
import jcuda.driver.CUmodule;
import jcuda.driver.CUstream;
import jcuda.driver.JCudaDriver;

import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * Transfers between CUDA paged caches (device memory at the serving engine's raw addresses, same
 * process, same context) and pool pages (pinned, device-mapped host memory: see
 * {@code CudaSlabRegistrar}).
 *
 * <p>Two ways to move the bytes, chosen by {@code extra_config.cuda_transfer}:
 * <ul>
 *   <li>{@code kernel} (default): one launch of {@code kv_gather}/{@code kv_scatter}
 *       (native/cuda/kv_transfer.cu) per chunk, every layer and plane in it;</li>
 *   <li>{@code dma}: one {@code cuMemcpyAsync} per contiguous run of rows, per layer and plane,
 *       which leaves the SMs to the model's compute.</li>
 * </ul>
 * Both run on a dedicated stream, and each call waits for an event recorded after its copies, so a
 * store's rows are in the page before the serving engine may overwrite the blocks, and a
 * retrieve's rows are in the cache before it returns.
 *
 * <p>Calls are serialised: the slot and layer buffers on the device are reused by every call.
 * Loads JCuda: build it only after {@code CudaProbe} saw a driver and a device.
 */
public final class CudaKvTransfer implements KvTransfer {
    public enum Mode { KERNEL, DMA }

    private static final int THREADS = 128;          // kv_host.c mirrors this lane count
    private static final int SHAPE_BYTES = 40;       // sizeof(kv_shape), kv_index.h
    private static final int CU_STREAM_NON_BLOCKING = 1;
    private static final int CU_EVENT_DISABLE_TIMING = 2;

    private final Mode mode;
    private final CUcontext context = new CUcontext();
    private final CUmodule module = new CUmodule();
    private final CUfunction gather = new CUfunction();
    private final CUfunction scatter = new CUfunction();
    private final CUstream stream = new CUstream();
    private final CUevent done = new CUevent();
    private CUdeviceptr deviceSlots;
    private int slotCapacity;
    private CUdeviceptr deviceLayers;
    private PagedCaches layersOf;
    /** The device whose primary context this transfer retained, or null if it used the caller's. */
    private CUdevice retained;

    /** Loads the kernels from {@code fatbin} into the calling thread's context (device 0's primary one if none). */
    public CudaKvTransfer(Mode mode, byte[] fatbin) {
        this.mode = mode;
        JCudaDriver.setExceptionsEnabled(true);
        JCudaDriver.cuCtxGetCurrent(context);
        if (isNull(context)) {
            CUdevice device = new CUdevice();
            JCudaDriver.cuDeviceGet(device, 0);
            JCudaDriver.cuDevicePrimaryCtxRetain(context, device);
            retained = device;
        }
        JCudaDriver.cuCtxSetCurrent(context);
        JCudaDriver.cuModuleLoadData(module, fatbin);
        JCudaDriver.cuModuleGetFunction(gather, module, "kv_gather");
        JCudaDriver.cuModuleGetFunction(scatter, module, "kv_scatter");
        JCudaDriver.cuStreamCreate(stream, CU_STREAM_NON_BLOCKING);
        JCudaDriver.cuEventCreate(done, CU_EVENT_DISABLE_TIMING);
    }

    private static boolean isNull(CUcontext c) {
        return new CUcontext().equals(c);
    }

    @Override
    public synchronized void gather(PagedCaches caches, long[] slots, int from, int to, MemorySegment page) {
        copy(caches, slots, from, to, page, true);
    }

    @Override
    public synchronized void scatter(MemorySegment page, PagedCaches caches, long[] slots, int from, int to) {
        copy(caches, slots, from, to, page, false);
    }

    private void copy(PagedCaches caches, long[] slots, int from, int to, MemorySegment page, boolean toPage) {
        JCudaDriver.cuCtxSetCurrent(context);
        if (mode == Mode.KERNEL) {
            launch(caches, slots, from, to, page, toPage);
        } else {
            dma(caches, slots, from, to, page, toPage);
        }
        JCudaDriver.cuEventRecord(done, stream);
        JCudaDriver.cuEventSynchronize(done);
    }

    private void launch(PagedCaches caches, long[] slots, int from, int to, MemorySegment page, boolean toPage) {
        int tokens = to - from;
        if (tokens == 0) {
            return;
        }
        ChunkFormat chunk = new ChunkFormat(caches.layout());
        uploadLayers(caches);
        uploadSlots(slots, from, tokens);
        CUdeviceptr pagePtr = address(page.address());
        Pointer params = Pointer.to(Pointer.to(shape(caches, chunk, tokens)), Pointer.to(deviceLayers),
                Pointer.to(deviceSlots), Pointer.to(pagePtr));
        JCudaDriver.cuLaunchKernel(toPage ? gather : scatter, tokens, chunk.layers() * chunk.planes(), 1,
                THREADS, 1, 1, 0, stream, params, null);
    }

    private void dma(PagedCaches caches, long[] slots, int from, int to, MemorySegment page, boolean toPage) {
        ChunkFormat chunk = new ChunkFormat(caches.layout());
        SlotRuns runs = SlotRuns.of(slots, from, to, caches.layout().blockSize(), caches.contiguousAcrossBlocks());
        int tokens = to - from;
        for (int layer = 0; layer < chunk.layers(); layer++) {
            long cache = caches.layer(layer).address();
            for (int plane = 0; plane < chunk.planes(); plane++) {
                for (int r = 0; r < runs.count; r++) {
                    CUdeviceptr c = address(cache + caches.offset(plane, runs.slotStart[r]));
                    CUdeviceptr p = address(page.address() + chunk.offset(plane, layer, runs.tokenStart[r], tokens));
                    long bytes = runs.length[r] * chunk.rowBytes();
                    JCudaDriver.cuMemcpyAsync(toPage ? p : c, toPage ? c : p, bytes, stream);
                }
            }
        }
    }

    /** kv_shape of kv_index.h, little-endian, field by field. */
    private static byte[] shape(PagedCaches caches, ChunkFormat chunk, int tokens) {
        ByteBuffer b = ByteBuffer.allocate(SHAPE_BYTES).order(ByteOrder.LITTLE_ENDIAN);
        b.putInt(caches.layout().format().ordinal()).putInt(chunk.planes()).putInt(chunk.layers())
                .putInt(caches.layout().blockSize()).putLong(caches.layout().numSlots()).putLong(chunk.rowBytes())
                .putInt(tokens).putInt(0);
        return b.array();
    }

    /** The layer base addresses, uploaded once per registered set of caches. */
    private void uploadLayers(PagedCaches caches) {
        if (layersOf == caches) {
            return;
        }
        int n = caches.layout().numLayers();
        long[] addresses = new long[n];
        for (int i = 0; i < n; i++) {
            addresses[i] = caches.layer(i).address();
        }
        if (deviceLayers != null) {
            JCudaDriver.cuMemFree(deviceLayers);
        }
        deviceLayers = new CUdeviceptr();
        JCudaDriver.cuMemAlloc(deviceLayers, 8L * n);
        JCudaDriver.cuMemcpyHtoD(deviceLayers, Pointer.to(addresses), 8L * n);
        JCudaDriver.cuCtxSynchronize(); // once per registration: the addresses must have landed before any kernel
        layersOf = caches;
    }

    /**
     * The chunk's slots, 2 KiB for a 256-token chunk, copied on the transfer's own stream so that
     * the kernel after it sees them: a synchronous copy from pageable memory may return before the
     * bytes reach the device, and a non-blocking stream is not ordered after it. The previous call
     * has finished (each call waits for its event), so the buffer is free to overwrite.
     */
    private void uploadSlots(long[] slots, int from, int tokens) {
        if (tokens > slotCapacity) {
            if (deviceSlots != null) {
                JCudaDriver.cuMemFree(deviceSlots);
            }
            deviceSlots = new CUdeviceptr();
            JCudaDriver.cuMemAlloc(deviceSlots, 8L * tokens);
            slotCapacity = tokens;
        }
        java.nio.ByteBuffer staging = java.nio.ByteBuffer.allocateDirect(8 * tokens).order(java.nio.ByteOrder.nativeOrder());
        staging.asLongBuffer().put(slots, from, tokens);
        JCudaDriver.cuMemcpyHtoDAsync(deviceSlots, Pointer.to(staging), 8L * tokens, stream);
    }

    private static CUdeviceptr address(long address) {
        return new CUdeviceptr().withByteOffset(address);
    }

    @Override
    public String describe() {
        return "cuda-" + mode.name().toLowerCase();
    }

    /** Waits for the stream, then frees the buffers, the event, the stream and the module. */
    @Override
    public synchronized void close() {
        JCudaDriver.cuCtxSetCurrent(context);
        JCudaDriver.cuStreamSynchronize(stream);
        if (deviceSlots != null) {
            JCudaDriver.cuMemFree(deviceSlots);
            deviceSlots = null;
        }
        if (deviceLayers != null) {
            JCudaDriver.cuMemFree(deviceLayers);
            deviceLayers = null;
        }
        JCudaDriver.cuEventDestroy(done);
        JCudaDriver.cuStreamDestroy(stream);
        JCudaDriver.cuModuleUnload(module);
        if (retained != null) {
            JCudaDriver.cuDevicePrimaryCtxRelease(retained);
            retained = null;
        }
    }
}
