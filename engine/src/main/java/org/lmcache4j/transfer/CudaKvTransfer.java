package org.lmcache4j.transfer;

import jcuda.CudaException;
import jcuda.Pointer;
import jcuda.driver.CUcontext;
import jcuda.driver.CUdevice;
import jcuda.driver.CUdeviceptr;
import jcuda.driver.CUevent;
import jcuda.driver.CUstream;
import jcuda.driver.JCudaDriver;
import org.lmcache4j.CudaStream;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.ArrayDeque;
import java.util.function.Supplier;

/**
 * Transfers between CUDA paged caches (device memory at the serving engine's raw addresses, same
 * process) and pool pages (page-locked host memory the device reaches: see
 * {@code CudaSlabRegistrar}).
 *
 * <h2>How the bytes move</h2>
 * {@code extra_config.cuda_transfer} chooses: {@code kernel} (default), one launch of
 * {@code kv_gather}/{@code kv_scatter} (native/cuda/kv_transfer.cu) per chunk, every layer and
 * plane in it; or {@code dma}, one {@code cuMemcpyAsync} per run of adjacent rows, per layer and
 * plane, which leaves the SMs to the model and needs no kernels.
 *
 * <h2>Ordering with the serving engine, without blocking it</h2>
 * Every request is one {@link CudaBatch} on the transfer's own non-blocking stream:
 * <pre>
 *  caller stream:   ── forward pass ──[ready]·····················[wait done]── next work ──
 *  transfer stream:          [wait ready][slots ⇢ device][chunk][chunk]…[done]
 *  completion thread:                                                 waits done → publish / release
 * </pre>
 * The copies start only after the work queued on the caller's stream (a store reads KV the
 * forward pass wrote; a retrieve writes blocks queued work may still read), and the caller's
 * stream waits for them before its next work (a retrieve's KV must be there before attention
 * reads it; a store's blocks must not be overwritten before they are read). What must wait on
 * the host (a stored chunk is published only once its bytes are complete; a page is released only
 * once no copy reads it) runs on {@link CudaCompletions}' thread. The serving thread never waits
 * for the device, except when a batch fails part way ({@link TransferBatch#abandon}).
 *
 * <h2>Contexts</h2>
 * The copies run in the context that owns the caches (the device's primary context, as with
 * torch), pushed around each call so that the caller's current context is left as it was. The
 * caller's stream must belong to that context.
 *
 * <p>Loads JCuda: build it only after {@code CudaProbe} saw a driver and a device.
 */
public final class CudaKvTransfer implements KvTransfer {
    private static final Logger LOG = LoggerFactory.getLogger(CudaKvTransfer.class);

    public enum Mode { KERNEL, DMA }

    private static final int CU_STREAM_NON_BLOCKING = 1;
    private static final int CU_EVENT_DISABLE_TIMING = 2;
    private static final int CU_POINTER_ATTRIBUTE_CONTEXT = 1;
    private static final int CU_DEVICE_ATTRIBUTE_CAN_USE_HOST_POINTER_FOR_REGISTERED_MEM = 91;
    /**
     * Test hook, never cleared in production: false drops both waits with the caller's stream, so
     * that CudaStreamOrderingTest can show its checks fail without them.
     */
    static volatile boolean orderWithCaller = true;

    final Mode mode;
    final int device;
    final CUcontext context;
    final CUstream stream = new CUstream();
    final SlotBuffers slotBuffers = new SlotBuffers();
    private final CUdevice retained = new CUdevice();
    private final CudaKernels kernels;
    private final CudaCompletions completions;
    private final ArrayDeque<CUevent> events = new ArrayDeque<>();
    private final long contextHandle;
    /** Whether kernels reach page-locked memory at its host address (unified addressing): no translation per chunk. */
    private final boolean hostPointersMapped;
    /**
     * How deep this thread holds the context pushed for a batch: a batch pushes it once at begin
     * and pops it at its end, so its per-chunk calls skip two driver calls each.
     */
    private final ThreadLocal<int[]> held = ThreadLocal.withInitial(() -> new int[1]);
    private CUdeviceptr layerTable;
    private PagedCaches tableOf;
    private boolean closed;

    /**
     * @param mode         kernel launches or DMA copies
     * @param fatbin       the kernels (read only in kernel mode)
     * @param device       the CUDA device holding the caches
     * @param cacheAddress any layer cache's address: its owning context is the one the copies run in
     */
    public CudaKvTransfer(Mode mode, Supplier<byte[]> fatbin, int device, long cacheAddress) {
        this.mode = mode;
        this.device = device;
        JCudaDriver.setExceptionsEnabled(true);
        JCudaDriver.cuInit(0);
        JCudaDriver.cuDeviceGet(retained, device);
        CUcontext primary = new CUcontext();
        JCudaDriver.cuDevicePrimaryCtxRetain(primary, retained);
        long[] owner = new long[1];
        CudaKernels k = null;
        boolean pushed = false;
        try {
            JCudaDriver.cuPointerGetAttribute(Pointer.to(owner), CU_POINTER_ATTRIBUTE_CONTEXT, CudaHandles.address(cacheAddress));
            contextHandle = owner[0];
            if (contextHandle != CudaHandles.handle(primary)) {
                LOG.info("the KV caches are in a context of their own on CUDA device {}, not its primary one: copying there", device);
            }
            context = contextHandle == CudaHandles.handle(primary) ? primary : CudaHandles.context(contextHandle);
            JCudaDriver.cuCtxPushCurrent(context);
            pushed = true;
            k = mode == Mode.KERNEL ? new CudaKernels(fatbin.get()) : null;
            JCudaDriver.cuStreamCreate(stream, CU_STREAM_NON_BLOCKING);
        } catch (RuntimeException | Error e) {
            if (k != null) {
                k.close();
            }
            if (pushed) {
                JCudaDriver.cuCtxPopCurrent(new CUcontext());
            }
            JCudaDriver.cuDevicePrimaryCtxRelease(retained);
            throw e;
        }
        JCudaDriver.cuCtxPopCurrent(new CUcontext());
        int[] mapped = new int[1];
        JCudaDriver.cuDeviceGetAttribute(mapped, CU_DEVICE_ATTRIBUTE_CAN_USE_HOST_POINTER_FOR_REGISTERED_MEM, retained);
        hostPointersMapped = mapped[0] == 1;
        kernels = k;
        completions = new CudaCompletions(context);
    }

    @Override
    public void checkStream(CudaStream stream) {
        if (stream.isDefault()) {
            return;
        }
        CUcontext owner = new CUcontext();
        try {
            // In the caches' context, so that the special handles (per-thread, legacy) resolve to it.
            inContext(() -> JCudaDriver.cuStreamGetCtx(CudaHandles.stream(stream.handle()), owner));
        } catch (CudaException e) {
            throw new IllegalArgumentException(stream + " is not a live stream of this process (cuStreamGetCtx: "
                    + e.getMessage() + ")", e);
        }
        if (CudaHandles.handle(owner) != contextHandle) {
            throw new IllegalArgumentException(stream + " belongs to another CUDA context (0x"
                    + Long.toHexString(CudaHandles.handle(owner)) + ") than the KV caches on device " + device
                    + " (0x" + Long.toHexString(contextHandle) + "): pass a stream of the caches' context");
        }
    }

    @Override
    public synchronized void prepare(PagedCaches caches) {
        if (mode != Mode.KERNEL || tableOf == caches) {
            return;
        }
        // The layer base addresses, once per registration. On the transfer's stream (never the
        // default one, which would wait for the serving engine's work), then waited for.
        int n = caches.layout().numLayers();
        long[] addresses = new long[n];
        for (int i = 0; i < n; i++) {
            addresses[i] = caches.layer(i).address();
        }
        inContext(() -> {
            CUdeviceptr table = new CUdeviceptr();
            JCudaDriver.cuMemAlloc(table, 8L * n);
            try {
                JCudaDriver.cuMemcpyHtoDAsync(table, Pointer.to(addresses), 8L * n, stream);
                JCudaDriver.cuStreamSynchronize(stream);
            } catch (RuntimeException e) {
                JCudaDriver.cuMemFree(table);
                throw e;
            }
            CUdeviceptr old = layerTable;
            layerTable = table;
            tableOf = caches;
            if (old != null) {
                completions.awaitIdle(); // no batch in flight reads the old table any more
                JCudaDriver.cuMemFree(old);
            }
            return null;
        });
    }

    @Override
    public synchronized TransferBatch begin(PagedCaches caches, long[] slots, CudaStream caller) {
        if (closed) {
            throw new IllegalStateException("the CUDA transfer is closed");
        }
        if (mode == Mode.KERNEL && tableOf != caches) {
            throw new IllegalStateException("caches were not prepared for the CUDA transfer");
        }
        CUstream callerStream = CudaHandles.stream(caller.handle());
        CUevent ready = event();
        CUevent done = event();
        try {
            return inContext(() -> {
                if (orderWithCaller) {
                    JCudaDriver.cuEventRecord(ready, callerStream);
                    JCudaDriver.cuStreamWaitEvent(stream, ready, 0);
                }
                SlotBuffers.Pair onDevice = mode == Mode.KERNEL ? slotBuffers.upload(slots, stream) : null;
                CudaBatch batch = new CudaBatch(this, caches, slots, callerStream, ready, done, onDevice);
                hold();
                return batch;
            });
        } catch (RuntimeException | Error e) {
            synchronized (events) { // nothing queued refers to them yet, or only a record nobody waits for
                events.push(ready);
                events.push(done);
            }
            throw e;
        }
    }

    /** Queues one chunk's copies on the transfer's stream. */
    synchronized void copy(CudaBatch b, int from, int to, long page, boolean toPage) {
        inContext(() -> {
            if (mode == Mode.KERNEL) {
                long devicePage = page;
                if (!hostPointersMapped) {
                    CUdeviceptr mapped = new CUdeviceptr();
                    JCudaDriver.cuMemHostGetDevicePointer(mapped, CudaHandles.address(page), 0);
                    devicePage = CudaHandles.address(mapped);
                }
                kernels.launch(toPage, b.caches, to - from, CudaHandles.address(layerTable),
                        b.slotsOnDevice.deviceAddress() + 8L * from, devicePage, stream);
            } else {
                DmaRuns.copy(b.caches, b.slots, from, to, page, toPage, stream);
            }
            return null;
        });
    }

    /** Ends a batch: the caller's stream waits for it; {@code then} runs once it landed. */
    synchronized void finish(CudaBatch b, java.util.function.Consumer<Throwable> then) {
        try {
            inContext(() -> {
                JCudaDriver.cuEventRecord(b.done, stream);
                if (orderWithCaller) {
                    JCudaDriver.cuStreamWaitEvent(b.callerStream, b.done, 0);
                }
                return null;
            });
        } finally {
            release();
        }
        completions.submit(b.done, failure -> {
            recycle(b);
            then.accept(failure);
        });
    }

    /** Ends a batch that failed part way, once what it queued has run. */
    void abandon(CudaBatch b) {
        java.util.concurrent.CountDownLatch landed = new java.util.concurrent.CountDownLatch(1);
        release();
        try {
            synchronized (this) {
                inContext(() -> {
                    JCudaDriver.cuEventRecord(b.done, stream);
                    return null;
                });
            }
            completions.submit(b.done, failure -> {
                recycle(b);
                landed.countDown();
            });
            landed.await();
        } catch (RuntimeException e) {
            LOG.error("abandoning a failed CUDA batch: {}", e.toString());
            synchronized (this) {
                inContext(() -> JCudaDriver.cuStreamSynchronize(stream));
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private void recycle(CudaBatch b) {
        if (b.slotsOnDevice != null) {
            slotBuffers.give(b.slotsOnDevice);
        }
        synchronized (events) {
            events.push(b.ready);
            events.push(b.done);
        }
    }

    private CUevent event() {
        synchronized (events) {
            CUevent e = events.poll();
            if (e != null) {
                return e;
            }
        }
        CUevent e = new CUevent();
        inContext(() -> JCudaDriver.cuEventCreate(e, CU_EVENT_DISABLE_TIMING));
        return e;
    }

    /** A batch begins on this thread: the context stays pushed until it ends. */
    private void hold() {
        JCudaDriver.cuCtxPushCurrent(context);
        held.get()[0]++;
    }

    /** A batch ends on this thread (a batch begun on another is a caller's bug: logged, nothing popped). */
    private void release() {
        int[] depth = held.get();
        if (depth[0] == 0) {
            LOG.error("a CUDA batch ended on another thread than the one that began it");
            return;
        }
        depth[0]--;
        JCudaDriver.cuCtxPopCurrent(new CUcontext());
    }

    /** Runs {@code body} with the caches' context current, leaving the caller's as it was. */
    private <T> T inContext(Supplier<T> body) {
        if (held.get()[0] > 0) {
            return body.get(); // a batch of this thread holds it pushed already
        }
        JCudaDriver.cuCtxPushCurrent(context);
        try {
            return body.get();
        } finally {
            JCudaDriver.cuCtxPopCurrent(new CUcontext());
        }
    }

    @Override
    public void awaitIdle() {
        completions.awaitIdle();
    }

    @Override
    public String describe() {
        return "cuda-" + mode.name().toLowerCase();
    }

    /** Waits for the batches in flight, then frees the buffers, events, stream, module and context retain. */
    @Override
    public void close() {
        synchronized (this) {
            if (closed) {
                return;
            }
            closed = true;
        }
        completions.close();
        synchronized (this) {
            inContext(() -> {
                JCudaDriver.cuStreamSynchronize(stream);
                slotBuffers.close();
                if (layerTable != null) {
                    JCudaDriver.cuMemFree(layerTable);
                    layerTable = null;
                }
                synchronized (events) {
                    events.forEach(JCudaDriver::cuEventDestroy);
                    events.clear();
                }
                JCudaDriver.cuStreamDestroy(stream);
                if (kernels != null) {
                    kernels.close();
                }
                return null;
            });
            JCudaDriver.cuDevicePrimaryCtxRelease(retained);
        }
    }
}
