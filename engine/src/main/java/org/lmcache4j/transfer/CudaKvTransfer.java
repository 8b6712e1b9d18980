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
import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;
import java.util.function.Supplier;

/**
 * Transfers between CUDA paged caches (device memory at the serving engine's raw addresses, same
 * process) and pool pages (page-locked host memory the device reaches: see
 * {@code CudaSlabRegistrar}).
 *
 * <h2>How the bytes move</h2>
 * {@code extra_config.cuda_transfer} chooses: {@code kernel} (default), one launch of
 * {@code kv_gather_chunks}/{@code kv_scatter_chunks} (native/cuda/kv_transfer.cu) per request, every chunk,
 * layer and plane in it; or {@code dma}, one {@code cuMemcpyAsync} per run of adjacent rows, per
 * layer and plane, which leaves the SMs to the model and needs no kernels.
 *
 * <h2>Ordering with the serving engine, without blocking it</h2>
 * Every request is one {@link CudaBatch}, queued at once when it finishes, on the transfer's own
 * non-blocking stream:
 * <pre>
 *  caller stream:   ── forward pass ──[ready]·····························[wait done]── next work ──
 *  transfer stream:          [wait ready][slots + chunk table ⇢ device][one launch][done]
 *  completion thread:                                                         waits done → publish / release
 * </pre>
 * The copies start only after the work queued on the caller's stream (a store reads KV the
 * forward pass wrote; a retrieve writes blocks queued work may still read), and the caller's
 * stream waits for them before its next work (a retrieve's KV must be there before attention
 * reads it; a store's blocks must not be overwritten before they are read). What must wait on
 * the host (a stored chunk is published only once its bytes are complete; a page is released only
 * once no copy reads it) runs on {@link CudaCompletions}' thread. The serving thread never waits
 * for the device, except when queuing a batch fails part way (then it waits for what was queued).
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
    private final LaunchTables tables = new LaunchTables();
    private final CUdevice retained = new CUdevice();
    private final CudaKernels kernels;
    private final CudaCompletions completions;
    private final ArrayDeque<CUevent> events = new ArrayDeque<>();
    private final long contextHandle;
    /** Whether kernels reach page-locked memory at its host address (unified addressing): no translation per chunk. */
    private final boolean hostPointersMapped;
    /**
     * The device table of layer addresses of every set of caches registered: a request that began
     * with caches registered before a re-registration still copies with their table. Tiny; freed
     * at close.
     */
    private final java.util.Map<PagedCaches, CUdeviceptr> layerTables = new java.util.IdentityHashMap<>();
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
        if (mode != Mode.KERNEL || layerTables.containsKey(caches)) {
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
            layerTables.put(caches, table);
            return null;
        });
    }

    @Override
    public synchronized TransferBatch begin(PagedCaches caches, long[] slots, CudaStream caller) {
        if (closed) {
            throw new IllegalStateException("the CUDA transfer is closed");
        }
        CUdeviceptr table = layerTables.get(caches);
        if (mode == Mode.KERNEL && table == null) {
            throw new IllegalStateException("caches were not prepared for the CUDA transfer");
        }
        return new CudaBatch(this, caches, slots, CudaHandles.stream(caller.handle()),
                table == null ? 0 : CudaHandles.address(table));
    }

    /**
     * Queues a batch, all of it at once: the wait for the caller's stream, the tables and one
     * launch (kernel mode) or the runs' copies (DMA), the {@code done} event, and the caller's
     * wait for it; {@code then} runs on the completion thread once it has landed. A batch that
     * fails part way is waited for before this throws, so its pages may be freed.
     */
    synchronized void finish(CudaBatch b, Consumer<Throwable> then) {
        if (b.chunks.isEmpty()) {
            then.accept(null);
            return;
        }
        CUevent ready = event();
        CUevent done = event();
        LaunchTables.Pair tables = null;
        boolean queued = false;
        try {
            tables = inContext(() -> {
                if (orderWithCaller) {
                    JCudaDriver.cuEventRecord(ready, b.callerStream);
                    JCudaDriver.cuStreamWaitEvent(stream, ready, 0);
                }
                LaunchTables.Pair t = mode == Mode.KERNEL ? launch(b) : null;
                if (mode == Mode.DMA) {
                    for (LaunchTables.Chunk c : b.chunks) {
                        DmaRuns.copy(b.caches, b.slots, c.from(), c.from() + c.tokens(), c.page(), b.toPage, stream);
                    }
                }
                return t;
            });
            queued = true;
            inContext(() -> {
                JCudaDriver.cuEventRecord(done, stream);
                if (orderWithCaller) {
                    JCudaDriver.cuStreamWaitEvent(b.callerStream, done, 0);
                }
                return null;
            });
        } catch (RuntimeException | Error e) {
            LaunchTables.Pair t = tables;
            if (queued || t != null) {
                try {
                    inContext(() -> JCudaDriver.cuStreamSynchronize(stream)); // nothing queued may still read a page
                } catch (CudaException sticky) {
                    e.addSuppressed(sticky); // the context is broken (a device fault is sticky): nothing runs any more
                }
            }
            recycle(ready, done, t);
            if (e instanceof CudaException cuda) {
                // The device's answer (out of memory, a sticky fault), not a bug of the engine's.
                throw new IllegalStateException("queuing " + b.chunks.size() + " chunk copies on CUDA device " + device
                        + " failed: " + cuda.getMessage(), cuda);
            }
            throw e;
        }
        LaunchTables.Pair t = tables;
        completions.submit(done, failure -> {
            recycle(ready, done, t);
            then.accept(failure);
        });
    }

    /** The tables and one launch for every chunk of the batch. Context current. */
    private LaunchTables.Pair launch(CudaBatch b) {
        List<LaunchTables.Chunk> chunks = b.chunks;
        if (!hostPointersMapped) {
            chunks = new ArrayList<>(chunks.size());
            for (LaunchTables.Chunk c : b.chunks) {
                CUdeviceptr mapped = new CUdeviceptr();
                JCudaDriver.cuMemHostGetDevicePointer(mapped, CudaHandles.address(c.page()), 0);
                chunks.add(new LaunchTables.Chunk(CudaHandles.address(mapped), c.from(), c.tokens()));
            }
        }
        LaunchTables.Pair t = tables.upload(b.slots, chunks, stream);
        try {
            kernels.launch(b.toPage, b.caches, chunks, b.layerTable, t.slots(), t.chunks(), stream);
        } catch (RuntimeException e) {
            JCudaDriver.cuStreamSynchronize(stream); // the upload is queued: let it run before the pair is reused
            tables.give(t);
            throw e;
        }
        return t;
    }

    private void recycle(CUevent ready, CUevent done, LaunchTables.Pair t) {
        if (t != null) {
            tables.give(t);
        }
        synchronized (events) {
            events.push(ready);
            events.push(done);
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

    /** Runs {@code body} with the caches' context current, leaving the caller's as it was. */
    private <T> T inContext(Supplier<T> body) {
        return CurrentContext.call(context, body);
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
                tables.close();
                layerTables.values().forEach(JCudaDriver::cuMemFree);
                layerTables.clear();
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
