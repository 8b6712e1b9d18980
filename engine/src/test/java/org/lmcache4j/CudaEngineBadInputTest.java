package org.lmcache4j;

import jcuda.driver.CUcontext;
import jcuda.driver.CUdevice;
import jcuda.driver.CUstream;
import jcuda.driver.JCudaDriver;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.lmcache4j.cuda.CudaRuntime;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Bad input on device caches, on the CPU-run CUDA driver (two devices): each a clear error at
 * registration or at the call, naming the value, with nothing registered or stored, and the
 * engine still usable after.
 */
@Tag("cuda")
class CudaEngineBadInputTest {
    private static final KvLayout LAYOUT = new KvLayout(2, 2, 16, KvDtype.BFLOAT16, 16, 64, KvFormat.FLASH_ATTN);

    @TempDir
    Path dir;

    private CudaEmulator emulator;
    private CudaEmulator.Counts before;
    private CacheEngine engine;
    private DeviceCaches onZero;

    @BeforeEach
    void open() {
        emulator = CudaEmulator.require();
        before = emulator.counts();
        engine = CacheEngine.builder().layout(LAYOUT).model("bad-input").slabTargetBytes(1 << 20).open();
        onZero = new DeviceCaches(LAYOUT, 0);
        onZero.fillRandom(1);
    }

    @AfterEach
    void close() {
        System.clearProperty(CudaRuntime.FATBIN_PROPERTY);
        engine.awaitTransfers();
        assertEquals(0, engine.stats().leases());
        engine.close();
        onZero.close();
        emulator.assertNothingLeaked(before);
    }

    private void assertRefused(String words, Runnable call) {
        RuntimeException e = assertThrows(RuntimeException.class, call::run);
        assertTrue(e instanceof IllegalArgumentException || e instanceof IllegalStateException, e.toString());
        assertTrue(e.getMessage().contains(words), e.getMessage());
    }

    private void assertNothingRegistered() {
        assertRefused("no KV caches registered", () -> engine.store(new int[] {1}, new long[] {0}, 0));
        assertRefused("no KV caches registered", () -> engine.retrieve(new int[] {1}, new long[] {0}, 0));
        assertEquals("none", engine.transfer());
    }

    /** After a refusal: the right registration works, and a store and retrieve are exact. */
    private void assertStillUsable() {
        engine.registerKvCaches(onZero.addresses(), 0);
        int[] tokens = TestCaches.randomTokens(300, new Random(2));
        long[] from = TestCaches.randomSlots(LAYOUT, 300, new Random(3));
        long[] to = TestCaches.randomSlots(LAYOUT, 300, new Random(4));
        byte[] stored = onZero.rows(from, 0, 300);
        assertEquals(300, engine.store(tokens, from, 0));
        engine.awaitTransfers();
        assertEquals(300, engine.retrieve(tokens, to, 0));
        engine.awaitTransfers();
        org.junit.jupiter.api.Assertions.assertArrayEquals(stored, onZero.rows(to, 0, 300));
    }

    @Test
    void cachesOnTwoDevices_refused() {
        try (DeviceCaches onOne = new DeviceCaches(LAYOUT, 1)) {
            long[] mixed = {onZero.addresses()[0], onOne.addresses()[1]};
            assertRefused("on several CUDA devices [0, 1]", () -> engine.registerKvCaches(mixed));
            assertRefused("on several CUDA devices [0, 1]", () -> engine.registerKvCaches(mixed, 0));
            assertNothingRegistered();
        }
        assertStillUsable();
    }

    @Test
    void wrongOrMissingDevice_refused() {
        assertRefused("CUDA device 7 does not exist: the driver sees 2", () -> engine.registerKvCaches(onZero.addresses(), 7));
        assertRefused("registered for CUDA device 1, but they are memory of CUDA device 0",
                () -> engine.registerKvCaches(onZero.addresses(), 1));
        assertRefused("registered as host memory (device -1), but layer 0",
                () -> engine.registerKvCaches(onZero.addresses(), -1));
        try (TestCaches host = new TestCaches(LAYOUT)) {
            assertRefused("registered for CUDA device 0, but they are host memory",
                    () -> engine.registerKvCaches(host.addresses(), 0));
        }
        assertNothingRegistered();
        assertStillUsable();
    }

    @Test
    void concurrentRegistrationsOfTheSameCaches_allSucceed() throws Exception {
        // Registrations are serialised (they wait for running calls): two first registrations at
        // once must not both try to page-lock the pool.
        for (int round = 0; round < 20; round++) {
            try (CacheEngine fresh = CacheEngine.builder().layout(LAYOUT).model("race").slabTargetBytes(1 << 20).open()) {
                java.util.concurrent.CyclicBarrier start = new java.util.concurrent.CyclicBarrier(4);
                java.util.List<Thread> threads = new java.util.ArrayList<>();
                java.util.List<Throwable> errors = java.util.Collections.synchronizedList(new java.util.ArrayList<>());
                for (int t = 0; t < 4; t++) {
                    threads.add(Thread.ofPlatform().start(() -> {
                        try {
                            start.await();
                            fresh.registerKvCaches(onZero.addresses(), 0);
                        } catch (Throwable e) {
                            errors.add(e);
                        }
                    }));
                }
                for (Thread t : threads) {
                    t.join();
                }
                assertEquals(java.util.List.of(), errors);
                assertEquals("cuda-kernel", fresh.transfer());
            }
        }
    }

    @Test
    void layerSmallerThanTheLayout_refusedAtRegistration() {
        long short1 = onZero.memory().allocate(LAYOUT.layerCacheBytes() / 4);
        try {
            long[] layers = {onZero.addresses()[0], short1};
            assertRefused("layer 1 cache at 0x" + Long.toHexString(short1) + " lies in a " + LAYOUT.layerCacheBytes() / 4
                    + "-byte allocation", () -> engine.registerKvCaches(layers, 0));
            assertNothingRegistered();
        } finally {
            onZero.memory().free(short1);
        }
        assertStillUsable();
    }

    @Test
    void streamOfAnotherContext_orNotAStream_refusedAtTheCall() {
        engine.registerKvCaches(onZero.addresses(), 0);
        int[] tokens = TestCaches.randomTokens(300, new Random(5));
        long[] slots = TestCaches.randomSlots(LAYOUT, 300, new Random(6));
        CUdevice device = new CUdevice();
        JCudaDriver.cuDeviceGet(device, 0);
        CUcontext other = new CUcontext();
        JCudaDriver.cuCtxCreate(other, 0, device); // made current on this thread: pop it after
        CUstream foreign = new CUstream();
        try {
            JCudaDriver.cuStreamCreate(foreign, 1);
            long handle = org.lmcache4j.transfer.TestHandles.of(foreign);
            assertRefused("belongs to another CUDA context", () -> engine.store(KeyScope.NONE, tokens, slots, 0,
                    new CudaStream(handle)));
            assertRefused("belongs to another CUDA context", () -> engine.retrieve(KeyScope.NONE, tokens, slots, 0,
                    new CudaStream(handle)));
            assertRefused("is not a live stream", () -> engine.store(KeyScope.NONE, tokens, slots, 0,
                    new CudaStream(0xdead0000L)));
            assertEquals(0, engine.stats().chunks(), "a refused store stored something");
            assertEquals(0, engine.lookup(tokens));
        } finally {
            JCudaDriver.cuStreamDestroy(foreign);
            JCudaDriver.cuCtxDestroy(other);
        }
        engine.registerKvCaches(onZero.addresses(), 0);
        assertStillUsable();
    }

    @Test
    void kernelsThatDoNotMatchTheDriver_refusedAtRegistration() throws Exception {
        Path garbage = Files.write(dir.resolve("garbage.fatbin"), new byte[] {1, 2, 3, 4, 5, 6, 7, 8});
        System.setProperty(CudaRuntime.FATBIN_PROPERTY, garbage.toString());
        assertRefused("not a CUDA fatbin", () -> engine.registerKvCaches(onZero.addresses()));
        assertNothingRegistered();

        Path otherGpus = Files.write(dir.resolve("sm80-only.fatbin"), withoutCodeFor90(Files.readAllBytes(emulator.fatbin)));
        System.setProperty(CudaRuntime.FATBIN_PROPERTY, otherGpus.toString());
        assertRefused("no code for this GPU's architecture", () -> engine.registerKvCaches(onZero.addresses()));
        assertNothingRegistered();

        System.clearProperty(CudaRuntime.FATBIN_PROPERTY);
        assertStillUsable();
    }

    /**
     * The real fatbin with every entry re-labelled for GPUs the driver's sm_90 device cannot run:
     * cubins for sm_80 (in the entry header and the ELF's e_flags), PTX for compute_100.
     */
    static byte[] withoutCodeFor90(byte[] fatbin) {
        ByteBuffer b = ByteBuffer.wrap(fatbin.clone()).order(ByteOrder.LITTLE_ENDIAN);
        int headerSize = b.getShort(6) & 0xffff;
        long end = headerSize + b.getLong(8);
        int entry = headerSize;
        while (entry < end) {
            int kind = b.getShort(entry) & 0xffff;
            int entryHeader = b.getInt(entry + 4);
            long payload = b.getLong(entry + 8);
            if (kind == 2) {
                b.putInt(entry + 0x1c, 80);
                int elf = entry + entryHeader;
                b.put(elf + 49, (byte) 80); // e_flags bits 8..15: the SM
            } else {
                b.putInt(entry + 0x1c, 100);
            }
            entry += entryHeader + (int) payload;
        }
        return b.array();
    }
}
