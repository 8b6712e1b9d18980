package org.lmcache4j.transfer;

import jcuda.Pointer;
import jcuda.driver.CUcontext;
import jcuda.driver.CUdevice;
import jcuda.driver.CUdeviceptr;
import jcuda.driver.CUipcMemHandle;
import jcuda.driver.CUstream;
import jcuda.driver.JCudaDriver;

import java.lang.foreign.MemorySegment;
import java.util.function.Supplier;

/**
 * What a serving engine does with device memory, for the ones that stand in for it here (the
 * replay's {@code --device cuda}, the GPU check, the tests): allocate and free, copy between host
 * and device on a stream, make streams, page-lock host memory, all in the primary context of one
 * device (the context torch uses), pushed around each call so no thread's current context
 * changes. Addresses are raw {@code long}s, as a serving engine hands them to the C ABI.
 *
 * <p>Loads JCuda: open it only after {@code CudaProbe} saw a driver and a device.
 */
public final class DeviceMemory implements AutoCloseable {
    private static final int CU_MEMHOSTREGISTER_PORTABLE_DEVICEMAP = 0x03;
    private static final int CU_IPC_MEM_LAZY_ENABLE_PEER_ACCESS = 0x1;

    private final int device;
    private final CUdevice handle = new CUdevice();
    private final CUcontext context = new CUcontext();
    private final String name;
    private boolean closed;

    /** Retains device {@code device}'s primary context. */
    public DeviceMemory(int device) {
        this.device = device;
        JCudaDriver.setExceptionsEnabled(true);
        JCudaDriver.cuInit(0);
        JCudaDriver.cuDeviceGet(handle, device);
        byte[] n = new byte[256];
        JCudaDriver.cuDeviceGetName(n, n.length, handle);
        this.name = new String(n, 0, indexOfNul(n), java.nio.charset.StandardCharsets.UTF_8);
        JCudaDriver.cuDevicePrimaryCtxRetain(context, handle);
    }

    private static int indexOfNul(byte[] b) {
        for (int i = 0; i < b.length; i++) {
            if (b[i] == 0) {
                return i;
            }
        }
        return b.length;
    }

    public int device() {
        return device;
    }

    /** The device's name, as the driver gives it. */
    public String name() {
        return name;
    }

    /** {@code bytes} of device memory; its address. */
    public long allocate(long bytes) {
        return in(() -> {
            CUdeviceptr p = new CUdeviceptr();
            JCudaDriver.cuMemAlloc(p, bytes);
            return CudaHandles.handle(p);
        });
    }

    public void free(long address) {
        in(() -> JCudaDriver.cuMemFree(CudaHandles.address(address)));
    }

    /** Sets {@code bytes} of device memory at {@code address} to {@code value}, and waits. */
    public void fill(long address, byte value, long bytes) {
        in(() -> JCudaDriver.cuMemsetD8(CudaHandles.address(address), value, bytes));
    }

    /** A new stream that, like torch's, waits for the legacy default stream; its handle. */
    public long createStream() {
        return in(() -> {
            CUstream s = new CUstream();
            JCudaDriver.cuStreamCreate(s, 0);
            return CudaHandles.handle(s);
        });
    }

    public void destroyStream(long stream) {
        in(() -> JCudaDriver.cuStreamDestroy(CudaHandles.stream(stream)));
    }

    /** Queues a copy of {@code bytes} from host {@code from} to device {@code to} on {@code stream}. */
    public void upload(MemorySegment from, long to, long bytes, long stream) {
        in(() -> JCudaDriver.cuMemcpyHtoDAsync(CudaHandles.address(to), hostPointer(from), bytes,
                CudaHandles.stream(stream)));
    }

    /**
     * Queues a copy of {@code bytes} from device {@code from} to host {@code to} on {@code stream};
     * into pageable host memory it has landed when this returns, into page-locked memory once the
     * stream reaches it.
     */
    public void download(long from, MemorySegment to, long bytes, long stream) {
        in(() -> JCudaDriver.cuMemcpyDtoHAsync(hostPointer(to), CudaHandles.address(from), bytes,
                CudaHandles.stream(stream)));
    }

    /** Waits until everything queued on {@code stream} has run. */
    public void synchronize(long stream) {
        in(() -> JCudaDriver.cuStreamSynchronize(CudaHandles.stream(stream)));
    }

    /** Page-locks host memory (portable, device-mapped), as a pool slab is. */
    public void pin(MemorySegment host) {
        in(() -> JCudaDriver.cuMemHostRegister(hostPointer(host), host.byteSize(), CU_MEMHOSTREGISTER_PORTABLE_DEVICEMAP));
    }

    public void unpin(MemorySegment host) {
        in(() -> JCudaDriver.cuMemHostUnregister(hostPointer(host)));
    }

    /** Opens another process's device memory from its CUDA IPC handle (64 bytes); its address here. */
    public long openIpc(byte[] handle) {
        return in(() -> {
            CUdeviceptr p = new CUdeviceptr();
            JCudaDriver.cuIpcOpenMemHandle(p, CudaHandles.ipcHandle(handle), CU_IPC_MEM_LAZY_ENABLE_PEER_ACCESS);
            return CudaHandles.handle(p);
        });
    }

    /** Closes memory {@link #openIpc} opened (one reference: the driver counts opens of one handle). */
    public void closeIpc(long address) {
        in(() -> JCudaDriver.cuIpcCloseMemHandle(CudaHandles.address(address)));
    }

    /** The CUDA IPC handle of the allocation that starts at {@code base} (tests: a client's side). */
    public byte[] ipcHandle(long base) {
        return in(() -> {
            CUipcMemHandle h = new CUipcMemHandle();
            JCudaDriver.cuIpcGetMemHandle(h, CudaHandles.address(base));
            return CudaHandles.ipcBytes(h);
        });
    }

    /** The size of the allocation that starts at or holds {@code address}. */
    public long allocationBytes(long address) {
        return in(() -> {
            long[] size = new long[1];
            JCudaDriver.cuMemGetAddressRange(new CUdeviceptr(), size, CudaHandles.address(address));
            return size[0];
        });
    }

    private static Pointer hostPointer(MemorySegment host) {
        return CudaHandles.address(host.address());
    }

    /** Runs other driver calls with this device's primary context current (then the caller's again). */
    public <T> T call(Supplier<T> calls) {
        return in(calls);
    }

    private <T> T in(Supplier<T> call) {
        if (closed) {
            throw new IllegalStateException("device memory of CUDA device " + device + " is closed");
        }
        return CurrentContext.call(context, call);
    }

    /** Releases the primary context (memory and streams made here must have been freed first). */
    @Override
    public synchronized void close() {
        if (!closed) {
            closed = true;
            JCudaDriver.cuDevicePrimaryCtxRelease(handle);
        }
    }
}
