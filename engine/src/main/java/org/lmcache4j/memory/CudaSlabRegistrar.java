package org.lmcache4j.memory;

import jcuda.driver.CUcontext;
import jcuda.driver.CUdevice;
import jcuda.driver.CUdeviceptr;
import jcuda.driver.JCudaDriver;

import java.lang.foreign.MemorySegment;

/**
 * Page-locks each pool slab as the pool maps it ({@code cuMemHostRegister}, portable so every
 * context may DMA from it, device-mapped so kernels reach it), and unlocks it before the pool
 * unmaps it. Slab by slab, because one giant pinned allocation fails above a few hundred GB and
 * stalls start-up for minutes.
 *
 * <p>Registration needs a current context, and the pool registers from its own grower thread:
 * the registrar holds a retain on the device's primary context (released by {@link #close}) and
 * pushes it around each call, so no thread's current context changes.
 *
 * <p>Loads JCuda: construct it only after {@code CudaProbe} saw a driver and a device.
 */
public final class CudaSlabRegistrar implements SlabRegistrar {
    static final int CU_MEMHOSTREGISTER_PORTABLE = 0x01;
    static final int CU_MEMHOSTREGISTER_DEVICEMAP = 0x02;

    private final int device;
    private final CUdevice handle = new CUdevice();
    private final CUcontext context = new CUcontext();
    private boolean closed;

    /** Registers with device {@code device}'s primary context (the one the serving engine's runtime uses). */
    public CudaSlabRegistrar(int device) {
        this.device = device;
        JCudaDriver.setExceptionsEnabled(true);
        JCudaDriver.cuInit(0);
        JCudaDriver.cuDeviceGet(handle, device);
        JCudaDriver.cuDevicePrimaryCtxRetain(context, handle);
    }

    @Override
    public void register(MemorySegment slab) {
        JCudaDriver.cuCtxPushCurrent(context);
        try {
            JCudaDriver.cuMemHostRegister(pointer(slab), slab.byteSize(),
                    CU_MEMHOSTREGISTER_PORTABLE | CU_MEMHOSTREGISTER_DEVICEMAP);
        } finally {
            JCudaDriver.cuCtxPopCurrent(new CUcontext());
        }
    }

    @Override
    public void unregister(MemorySegment slab) {
        JCudaDriver.cuCtxPushCurrent(context);
        try {
            JCudaDriver.cuMemHostUnregister(pointer(slab));
        } finally {
            JCudaDriver.cuCtxPopCurrent(new CUcontext());
        }
    }

    static CUdeviceptr pointer(MemorySegment segment) {
        return org.lmcache4j.transfer.CudaHandles.address(segment.address());
    }

    @Override
    public String describe() {
        return "cuda-pinned for device " + device;
    }

    @Override
    public synchronized void close() {
        if (!closed) {
            closed = true;
            JCudaDriver.cuDevicePrimaryCtxRelease(handle);
        }
    }
}
