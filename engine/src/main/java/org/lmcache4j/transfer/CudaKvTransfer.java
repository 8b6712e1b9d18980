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
 *  transfer stream:          [wait ready][tables ⇢ device][one launch][done]
 *  completion thread:                                                         waits done → publish / release
 * </pre>
 * The copies start only after the work queued on the caller's stream (a store reads KV the
 * forward pass wrote; a retrieve writes blocks queued work may still read), and the caller's
 * stream waits for them before its next work (a retrieve's KV must be there before attention
 * reads it; a store's blocks must not be overwritten before they are read). What must wait on
 * the host (a stored chunk is published only once its bytes are complete; a page is released only
 * once no copy reads it) runs on {@link CudaCompletions}' thread. The serving thread never waits
 * for the device, except when queuing a batch fails part way: then it waits for whatever was
 * queued before the pages are freed. A batch carries its caches and their layer addresses (one
 * upload with its slots and chunk table), so a re-registration cannot change what it copies.
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
    /** The completion thread sleeps in cuEventSynchronize instead of spinning a core. */
    private static final int CU_EVENT_BLOCKING_SYNC_NO_TIMING = 0x1 | 0x2;
    private static final int CU_POINTER_ATTRIBUTE_CONTEXT = 1;
    private static final int CU_DEVICE_ATTRIBUTE_CAN_USE_HOST_POINTER_FOR_REGISTERED_MEM = 91;

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
    /** False only in CudaStreamOrderingTest: drops both waits with the caller's stream, to show its checks then fail. */
    private final boolean orderWithCaller;
    private boolean closed;

    /**
     * @param mode         kernel launches or DMA copies
     * @param fatbin       the kernels (read only in kernel mode)
     * @param device       the CUDA device holding the caches
     * @param cacheAddress any layer cache's address: its owning context is the one the copies run in
     */
    public CudaKvTransfer(Mode mode, Supplier<byte[]> fatbin, int device, long cacheAddress) {
        this(mode, fatbin, device, cacheAddress, true);
    }

    CudaKvTransfer(Mode mode, Supplier<byte[]> fatbin, int device, long cacheAddress, boolean orderWithCaller) {
        this.mode = mode;
        this.device = device;
        this.orderWithCaller = orderWithCaller;
        JCudaDriver.setExceptionsEnabled(true);
        JCudaDriver.cuInit(0);
        JCudaDriver.cuDeviceGet(retained, device);
        CUcontext primary = new CUcontext();
        JCudaDriver.cuDevicePrimaryCtxRetain(primary, retained);
        CudaKernels k = null;
        boolean created = false;
        try {
            long[] owner = new long[1];
            JCudaDriver.cuPointerGetAttribute(Pointer.to(owner), CU_POINTER_ATTRIBUTE_CONTEXT, CudaHandles.address(cacheAddress));
            contextHandle = owner[0];
            if (contextHandle != CudaHandles.handle(primary)) {
                LOG.info("the KV caches are in a context of their own on CUDA device {}, not its primary one: copying there", device);
            }
            context = contextHandle == CudaHandles.handle(primary) ? primary : CudaHandles.context(contextHandle);
            int[] mapped = new int[1];
            JCudaDriver.cuDeviceGetAttribute(mapped, CU_DEVICE_ATTRIBUTE_CAN_USE_HOST_POINTER_FOR_REGISTERED_MEM, retained);
            hostPointersMapped = mapped[0] == 1;
            k = mode == Mode.KERNEL ? inContext(() -> new CudaKernels(fatbin.get())) : null;
            inContext(() -> JCudaDriver.cuStreamCreate(stream, CU_STREAM_NON_BLOCKING));
            created = true;
            completions = new CudaCompletions(context);
        } catch (RuntimeException | Error e) {
            CudaKernels loaded = k;
            boolean destroy = created;
            bestEffort(e, () -> inContext(() -> {
                if (destroy) {
                    JCudaDriver.cuStreamDestroy(stream);
                }
                if (loaded != null) {
                    loaded.close();
                }
                return null;
            }));
            bestEffort(e, () -> JCudaDriver.cuDevicePrimaryCtxRelease(retained));
            throw e;
        }
        kernels = k;
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

    /**
     * Checks caches about to be registered against the driver: every layer inside one allocation of
     * the layout's size (a short one would make a copy fault, and a device fault is sticky: it
     * would break the serving engine's own context), in this transfer's context.
     */
    @Override
    public void prepare(PagedCaches caches) {
        long bytes = caches.layout().layerCacheBytes();
        for (int i = 0; i < caches.layout().numLayers(); i++) {
            long address = caches.layer(i).address();
            CUdeviceptr base = new CUdeviceptr();
            long[] size = new long[1];
            long[] owner = new long[1];
            inContext(() -> {
                JCudaDriver.cuMemGetAddressRange(base, size, CudaHandles.address(address));
                return JCudaDriver.cuPointerGetAttribute(Pointer.to(owner), CU_POINTER_ATTRIBUTE_CONTEXT,
                        CudaHandles.address(address));
            });
            long end = CudaHandles.handle(base) + size[0];
            if (address + bytes > end) {
                throw new IllegalArgumentException("layer " + i + " cache at 0x" + Long.toHexString(address) + " lies in a "
                        + size[0] + "-byte allocation that ends " + (end - address) + " bytes after it; the layout needs "
                        + bytes + " (check num_blocks, block_size, heads, head_size and dtype)");
            }
            if (owner[0] != contextHandle) {
                throw new IllegalArgumentException("layer " + i + " cache at 0x" + Long.toHexString(address)
                        + " belongs to another CUDA context than the caches this engine copies on device " + device);
            }
        }
    }

    @Override
    public TransferBatch begin(PagedCaches caches, long[] slots, CudaStream caller) {
        return batch(caches, slots, caller, -1);
    }

    /**
     * One layer's copies: in kernel mode one launch of the same kernels for every chunk of the
     * batch, its grid's y covering that layer's planes only. The kernels index the layer as layer
     * 0, so the launch passes the layer table from layer {@code layer}'s entry on and each chunk's
     * page from that layer's first row on ({@code kv_page_offset} then lands on the layer's rows,
     * the plane stride being the whole chunk's); in DMA mode that layer's runs.
     */
    @Override
    public TransferBatch beginLayer(PagedCaches caches, long[] slots, CudaStream caller, int layer) {
        return batch(caches, slots, caller, layer);
    }

    private synchronized TransferBatch batch(PagedCaches caches, long[] slots, CudaStream caller, int layer) {
        if (closed) {
            throw new IllegalStateException("the CUDA transfer is closed");
        }
        return new CudaBatch(this, caches, slots, CudaHandles.stream(caller.handle()), layer);
    }

    /**
     * Queues a batch, all of it at once: the wait for the caller's stream, the tables and one
     * launch (kernel mode) or the runs' copies (DMA), the {@code done} event, and the caller's
     * wait for it; {@code then} runs on the completion thread once it has landed. If queuing fails
     * part way, this waits for whatever was queued before it throws, so the pages may be freed.
     */
    void finish(CudaBatch b, Consumer<Throwable> then) {
        if (b.chunks.isEmpty()) {
            then.accept(null);
            return;
        }
        CUevent ready = null;
        CUevent done = null;
        LaunchTables.Pair[] staged = new LaunchTables.Pair[1];
        synchronized (this) {
            if (closed) {
                throw new IllegalStateException("the CUDA transfer is closed");
            }
            try {
                ready = event();
                done = event();
                CUevent r = ready;
                CUevent d = done;
                inContext(() -> {
                    if (orderWithCaller) {
                        JCudaDriver.cuEventRecord(r, b.callerStream);
                        JCudaDriver.cuStreamWaitEvent(stream, r, 0);
                    }
                    if (mode == Mode.KERNEL) {
                        staged[0] = launch(b);
                    } else {
                        int firstLayer = Math.max(0, b.layer);
                        int endLayer = b.layer < 0 ? b.caches.layout().numLayers() : b.layer + 1;
                        for (LaunchTables.Chunk c : b.chunks) {
                            DmaRuns.copy(b.caches, b.slots, c.from(), c.from() + c.tokens(), c.page(), b.toPage,
                                    firstLayer, endLayer, stream);
                        }
                    }
                    JCudaDriver.cuEventRecord(d, stream);
                    if (orderWithCaller && !b.deferred) {
                        JCudaDriver.cuStreamWaitEvent(b.callerStream, d, 0);
                    }
                    return null;
                });
            } catch (RuntimeException | Error e) {
                // Some copies may be queued: none may still read or write a page once this throws.
                bestEffort(e, () -> inContext(() -> JCudaDriver.cuStreamSynchronize(stream)));
                recycle(ready, done, staged[0]);
                if (e instanceof CudaException cuda) {
                    // The device's answer (out of memory, a sticky fault), not a bug of the engine's.
                    throw new IllegalStateException("queuing " + b.chunks.size() + " chunk copies on CUDA device "
                            + device + " failed: " + cuda.getMessage(), cuda);
                }
                throw e;
            }
        }
        CUevent r = ready;
        CUevent d = done;
        synchronized (b) {
            b.done = d; // a deferred batch's caller may wait on it until it has landed
        }
        completions.submit(done, failure -> {
            synchronized (b) {
                b.done = null; // landed: a later orderCaller has nothing to wait for
                recycle(r, d, staged[0]);
            }
            then.accept(failure);
        });
    }

    /**
     * Makes a deferred batch's caller stream wait for its copies, unless they have landed. Under
     * the batch's lock, so that its event cannot be recycled (and recorded again elsewhere) while
     * the wait is queued on it.
     */
    void orderCaller(CudaBatch b) {
        synchronized (b) {
            if (b.done != null && orderWithCaller) {
                CUevent d = b.done;
                inContext(() -> JCudaDriver.cuStreamWaitEvent(b.callerStream, d, 0));
            }
        }
    }

    /** The tables (slots, chunks, layer addresses) and one launch for every chunk of the batch. Context current. */
    private LaunchTables.Pair launch(CudaBatch b) {
        List<LaunchTables.Chunk> chunks = b.chunks;
        if (!hostPointersMapped || b.layer >= 0) {
            ChunkFormat format = new ChunkFormat(b.caches.layout());
            chunks = new ArrayList<>(chunks.size());
            for (LaunchTables.Chunk c : b.chunks) {
                long page = c.page();
                if (!hostPointersMapped) {
                    CUdeviceptr mapped = new CUdeviceptr();
                    JCudaDriver.cuMemHostGetDevicePointer(mapped, CudaHandles.address(page), 0);
                    page = CudaHandles.handle(mapped);
                }
                // One layer's launch: the kernel indexes it as layer 0 of the chunk, so its page starts
                // that layer's rows early (see launchLayer).
                long shift = b.layer >= 0 ? format.offset(0, b.layer, 0, c.tokens()) : 0;
                chunks.add(new LaunchTables.Chunk(page + shift, c.from(), c.tokens()));
            }
        }
        LaunchTables.Pair t = tables.upload(b.slots, chunks, b.caches, stream);
        if (b.layer < 0) {
            kernels.launch(b.toPage, b.caches, chunks, t.layers(), t.slots(), t.chunks(), stream);
        } else {
            kernels.launchLayer(b.toPage, b.caches, chunks, t.layers() + 8L * b.layer, t.slots(), t.chunks(), stream);
        }
        return t;
    }

    /** Back to the pools, once nothing queued uses them (any may be null). */
    private void recycle(CUevent ready, CUevent done, LaunchTables.Pair t) {
        if (t != null) {
            tables.give(t);
        }
        synchronized (events) {
            if (ready != null) {
                events.push(ready);
            }
            if (done != null) {
                events.push(done);
            }
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
        inContext(() -> JCudaDriver.cuEventCreate(e, CU_EVENT_BLOCKING_SYNC_NO_TIMING));
        return e;
    }

    /** Runs {@code body} with the caches' context current, leaving the caller's as it was. */
    private <T> T inContext(Supplier<T> body) {
        return CurrentContext.call(context, body);
    }

    /** Runs a clean-up step whose own failure must not hide {@code cause} (a sticky device error fails them all). */
    private static void bestEffort(Throwable cause, Runnable step) {
        try {
            step.run();
        } catch (RuntimeException e) {
            cause.addSuppressed(e);
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

    /**
     * Waits for the batches in flight, then frees the buffers, events, stream, module and context
     * retain: each step best effort, so that a device fault (sticky: every call then fails) still
     * lets go of everything it can.
     */
    @Override
    public void close() {
        synchronized (this) {
            if (closed) {
                return;
            }
            closed = true;
        }
        completions.close();
        Throwable failures = new IllegalStateException("closing the CUDA transfer of device " + device);
        synchronized (this) {
            bestEffort(failures, () -> inContext(() -> JCudaDriver.cuStreamSynchronize(stream)));
            bestEffort(failures, () -> inContext(() -> {
                tables.close();
                return null;
            }));
            synchronized (events) {
                for (CUevent e : events) {
                    bestEffort(failures, () -> inContext(() -> JCudaDriver.cuEventDestroy(e)));
                }
                events.clear();
            }
            bestEffort(failures, () -> inContext(() -> JCudaDriver.cuStreamDestroy(stream)));
            if (kernels != null) {
                bestEffort(failures, () -> inContext(() -> {
                    kernels.close();
                    return null;
                }));
            }
            bestEffort(failures, () -> JCudaDriver.cuDevicePrimaryCtxRelease(retained));
        }
        if (failures.getSuppressed().length > 0) {
            LOG.error("closing the CUDA transfer of device {} met {} device errors (a device fault is sticky): {}",
                    device, failures.getSuppressed().length, failures.getSuppressed()[0].toString());
        }
    }
}
