package org.lmcache4j.server;

import org.lmcache4j.cuda.CudaRuntime;
import org.lmcache4j.memory.SlabRegistrar;

import java.lang.foreign.MemorySegment;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.function.IntFunction;

/**
 * The server pool's slab registrar: nothing is page-locked while every client copies on the
 * host, and once a client registers device caches ({@link #enable}), every slab mapped so far and
 * every later one is registered with that CUDA device, so that the server's CUDA transfer
 * reaches the pages. One device per server (a pool is page-locked for one device's context);
 * a client of another device is refused. JCuda is loaded only by {@link #enable}.
 */
final class DeviceSlabs implements SlabRegistrar {
    private final IntFunction<SlabRegistrar> cuda;
    /** The slabs the pool has mapped, by address. */
    private final Map<Long, MemorySegment> slabs = new LinkedHashMap<>();
    private SlabRegistrar registrar = SlabRegistrar.NONE;
    private int device = -1;

    DeviceSlabs() {
        this(CudaRuntime::registrar);
    }

    DeviceSlabs(IntFunction<SlabRegistrar> cuda) {
        this.cuda = cuda;
    }

    /** Page-locks the pool for {@code deviceId} from now on (done once; the same device again is a no-op). */
    synchronized void enable(int deviceId) {
        if (device == deviceId) {
            return;
        }
        if (device >= 0) {
            throw new IllegalArgumentException("this server's pool is page-locked for CUDA device " + device
                    + "; caches on device " + deviceId + " need a server of their own");
        }
        SlabRegistrar r = cuda.apply(deviceId);
        int done = 0;
        try {
            for (MemorySegment slab : slabs.values()) {
                r.register(slab);
                done++;
            }
        } catch (RuntimeException | Error e) {
            slabs.values().stream().limit(done).forEach(r::unregister);
            r.close();
            throw e;
        }
        registrar = r;
        device = deviceId;
    }

    @Override
    public synchronized void register(MemorySegment slab) {
        registrar.register(slab);
        slabs.put(slab.address(), slab);
    }

    @Override
    public synchronized void unregister(MemorySegment slab) {
        if (slabs.remove(slab.address()) != null) {
            registrar.unregister(slab);
        }
    }

    @Override
    public synchronized String describe() {
        return device < 0 ? "host (page-locked once a client registers device caches)" : registrar.describe();
    }

    @Override
    public synchronized void close() {
        registrar.close();
    }
}
