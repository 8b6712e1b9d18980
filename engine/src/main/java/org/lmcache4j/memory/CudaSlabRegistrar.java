package org.lmcache4j.memory;

import org.lmcache4j.transfer.DeviceMemory;

import java.lang.foreign.MemorySegment;

/**
 * Page-locks each pool slab as the pool maps it ({@code cuMemHostRegister}, portable so every
 * context may DMA from it, device-mapped so kernels reach it), and unlocks it before the pool
 * unmaps it. Slab by slab, because one giant pinned allocation fails above a few hundred GB and
 * stalls start-up for minutes.
 *
 * <p>Registration needs a current context, and the pool registers from its own grower thread:
 * the registrar holds a retain on the device's primary context (released by {@link #close}),
 * current only around each call ({@link DeviceMemory}), so no thread's current context changes.
 *
 * <p>Loads JCuda: construct it only after {@code CudaProbe} saw a driver and a device.
 */
public final class CudaSlabRegistrar implements SlabRegistrar {
    private final DeviceMemory device;

    /** Registers with device {@code device}'s primary context (the one the serving engine's runtime uses). */
    public CudaSlabRegistrar(int device) {
        this.device = new DeviceMemory(device);
    }

    @Override
    public void register(MemorySegment slab) {
        device.pin(slab);
    }

    @Override
    public void unregister(MemorySegment slab) {
        device.unpin(slab);
    }

    @Override
    public String describe() {
        return "cuda-pinned for device " + device.device();
    }

    @Override
    public void close() {
        device.close();
    }
}
