package org.lmcache4j.memory;

import jcuda.driver.CUcontext;
import jcuda.driver.CUdevice;
import jcuda.driver.CUdeviceptr;
import jcuda.driver.JCudaDriver;

import java.lang.foreign.MemorySegment;

/**
 * Page-locks each pool slab as the pool maps it ({@code cuMemHostRegister}, portable so every
 * context may DMA from it, device-mapped so kernels reach it through its host address), and
 * unlocks it before the pool unmaps it. Slab by slab, because one giant pinned allocation fails
 * above a few hundred GB and stalls start-up for minutes.
 *
 * <p>Loads JCuda: construct it only after {@code CudaProbe} saw a driver and a device.
 */
public final class CudaSlabRegistrar implements SlabRegistrar {
    static final int CU_MEMHOSTREGISTER_PORTABLE = 0x01;
    static final int CU_MEMHOSTREGISTER_DEVICEMAP = 0x02;

    /** Registration needs a current context, and the pool registers from its own grower thread. */
    private final CUcontext context = new CUcontext();

    /** Registers with device {@code device}'s primary context (the one the serving engine's runtime uses). */
    public CudaSlabRegistrar(int device) {
        JCudaDriver.setExceptionsEnabled(true);
        CUdevice d = new CUdevice();
        JCudaDriver.cuDeviceGet(d, device);
        JCudaDriver.cuDevicePrimaryCtxRetain(context, d);
    }

    public CudaSlabRegistrar() {
        this(0);
    }

    @Override
    public void register(MemorySegment slab) {
        JCudaDriver.cuCtxSetCurrent(context);
        JCudaDriver.cuMemHostRegister(pointer(slab), slab.byteSize(),
                CU_MEMHOSTREGISTER_PORTABLE | CU_MEMHOSTREGISTER_DEVICEMAP);
    }

    @Override
    public void unregister(MemorySegment slab) {
        JCudaDriver.cuCtxSetCurrent(context);
        JCudaDriver.cuMemHostUnregister(pointer(slab));
    }

    /** A JCuda pointer holding the raw address (JCuda has no public constructor from a long). */
    static CUdeviceptr pointer(MemorySegment segment) {
        return new CUdeviceptr().withByteOffset(segment.address());
    }

    @Override
    public String describe() {
        return "cuda-pinned";
    }
}
