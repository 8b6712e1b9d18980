package org.lmcache4j;

import jcuda.driver.CUdevice;
import jcuda.driver.JCudaDriver;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * An attack on the device path, on the CPU-run CUDA driver: the serving engine frees a layer's
 * device memory while the engine still has it registered, and a store's kernel then faults. On a
 * GPU such a fault is sticky: every later call in the context fails until it is reset. The engine
 * must not serve the chunks whose copies failed, and its close must still let go of everything it
 * holds instead of throwing half way. The test resets the primary context at its end, as a
 * serving process would have to.
 */
@org.lmcache4j.ProvokesFaults("a device fault (caches freed under the engine)")
@Tag("cuda")
class CudaDeviceFaultTest {
    private static final KvLayout LAYOUT = new KvLayout(2, 2, 16, KvDtype.BFLOAT16, 16, 64, KvFormat.FLASH_ATTN);

    @Test
    void cachesFreedUnderTheEngine_faultIsContained_closeReleasesWhatItCan() {
        CudaEmulator emulator = CudaEmulator.require();
        CudaEmulator.Counts before = emulator.counts();
        long faultsBefore = before.faults();
        DeviceCaches caches = new DeviceCaches(LAYOUT, 0);
        CacheEngine engine = CacheEngine.builder().layout(LAYOUT).model("fault").slabTargetBytes(1 << 20)
                .config(EngineConfig.builder().extraConfig(java.util.Map.of("cuda_transfer", "kernel")).build()).open();
        try {
            engine.registerKvCaches(caches.addresses(), 0);
            int[] tokens = TestCaches.randomTokens(256, new Random(1));
            long[] slots = TestCaches.randomSlots(LAYOUT, 256, new Random(2));
            caches.memory().free(caches.addresses()[1]); // the serving engine's bug: freed while registered
            try {
                engine.store(tokens, slots, 0); // the kernel faults on the device
            } catch (IllegalStateException e) {
                // The fault surfaced while the store was still queuing (asynchronous errors show at
                // the next call, as on a GPU): a clear error, nothing published.
                assertTrue(e.getMessage().contains("on CUDA device 0 failed: CUDA_ERROR_ILLEGAL_ADDRESS"), e.getMessage());
            }
            engine.awaitTransfers();
            assertTrue(emulator.counts().faults() > faultsBefore, "the kernel should have faulted");
            assertEquals(0, engine.lookup(tokens), "a chunk whose copy faulted was published");
            assertEquals(0, engine.stats().leases(), "the failed store kept its leases");
        } finally {
            engine.close(); // must not throw, whatever the device says
            caches.forgetLayer(1);
            resetPrimaryContext(caches);
        }
        CudaEmulator.Counts after = emulator.counts();
        assertEquals(before.primaryRetains(), after.primaryRetains(), "context retains left behind");
        assertEquals(before.deviceAllocations(), after.deviceAllocations(), "device memory left behind");
        assertEquals(before.streams(), after.streams(), "streams left behind");
        assertEquals(before.hostRegistrations(), after.hostRegistrations(), "pool slabs left registered");
    }

    @Test
    void layerCopyFaulting_midLayeredStore_publishesNothing_andReleasesItsPages() {
        CudaEmulator emulator = CudaEmulator.require();
        CudaEmulator.Counts before = emulator.counts();
        DeviceCaches caches = new DeviceCaches(LAYOUT, 0);
        CacheEngine engine = CacheEngine.builder().layout(LAYOUT).model("fault").slabTargetBytes(1 << 20)
                .config(EngineConfig.builder().extraConfig(java.util.Map.of("cuda_transfer", "kernel")).build()).open();
        try {
            engine.registerKvCaches(caches.addresses(), 0);
            int[] tokens = TestCaches.randomTokens(256, new Random(3));
            long[] slots = TestCaches.randomSlots(LAYOUT, 256, new Random(4));
            LayeredStore store = engine.storeLayers(KeyScope.NONE, tokens, slots, 0, CudaStream.DEFAULT);
            store.saveLayer(0);
            caches.memory().free(caches.addresses()[1]); // layer 1's cache freed under the engine
            boolean refused = false;
            try {
                store.saveLayer(1); // its copies fail on the device
            } catch (IllegalStateException e) {
                // the driver refused the copy while it was queued: a clear error, the store given up all the same
                assertTrue(e.getMessage().contains("on CUDA device 0 failed"), e.getMessage());
                refused = true;
            }
            engine.awaitTransfers();
            assertTrue(refused || emulator.counts().faults() > before.faults(), "the layer copy should have failed");
            assertTrue(store.ended() && !store.complete(), "a store whose layer copy faulted did not end incomplete");
            assertEquals(0, engine.lookup(tokens), "a chunk whose layer copy faulted was published");
            assertEquals(0, engine.stats().leases(), "the failed layered store kept its leases");
            store.close();
        } finally {
            engine.close();
            caches.forgetLayer(1);
            resetPrimaryContext(caches);
        }
        CudaEmulator.Counts after = emulator.counts();
        assertEquals(before.deviceAllocations(), after.deviceAllocations(), "device memory left behind");
        assertEquals(before.hostRegistrations(), after.hostRegistrations(), "pool slabs left registered");
    }

    /** Frees the test's own caches and clears the sticky fault, so later tests get a working context. */
    private static void resetPrimaryContext(DeviceCaches caches) {
        try {
            caches.close();
        } catch (RuntimeException e) {
            // the context is broken: the reset below reclaims what could not be freed
        }
        CUdevice device = new CUdevice();
        JCudaDriver.cuDeviceGet(device, 0);
        JCudaDriver.cuDevicePrimaryCtxReset(device);
    }
}
