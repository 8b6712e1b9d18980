package org.lmcache4j.transfer;

import jcuda.driver.CUdeviceptr;
import jcuda.driver.JCudaDriver;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.lmcache4j.KvFormat;
import org.lmcache4j.KvLayout;
import org.lmcache4j.TestCaches;
import org.lmcache4j.cuda.CudaProbe;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;

/**
 * {@link CudaKvTransfer} on a real GPU, against {@link HostKvTransfer}: byte-exact gathers into
 * poisoned pages and scatter round trips, every format, both modes, random slot mappings with
 * holes. Skipped (with the probe's reason) where there is no device, so CI runs none of it; on a
 * GPU box it needs the fatbin: {@code LMCACHE4J_CUDA_FATBIN=native/build/kv_transfer.fatbin}.
 */
class CudaKvTransferGpuTest {
    private static byte[] fatbin;

    private static String missing;

    @BeforeAll
    static void needsGpu() throws Exception {
        CudaProbe.Result probe = CudaProbe.system();
        String file = System.getenv().getOrDefault("LMCACHE4J_CUDA_FATBIN", "../native/build/kv_transfer.fatbin");
        if (!probe.devicesPresent()) {
            missing = "no GPU: " + probe.reason();
        } else if (!Files.exists(Path.of(file))) {
            missing = "no fatbin at " + file + ": make -C native cuda";
        } else {
            fatbin = Files.readAllBytes(Path.of(file));
        }
        if (missing != null) {
            // Said out loud: each test below is then reported as skipped, with this reason.
            System.out.println("CudaKvTransferGpuTest: every test skipped, " + missing);
        }
    }

    @org.junit.jupiter.api.BeforeEach
    void skipWithoutGpu() {
        Assumptions.assumeTrue(missing == null, missing);
    }

    static Stream<Arguments> cases() {
        List<Arguments> out = new ArrayList<>();
        for (KvFormat f : KvFormat.values()) {
            for (CudaKvTransfer.Mode m : CudaKvTransfer.Mode.values()) {
                out.add(Arguments.of(f, m));
            }
        }
        return out.stream();
    }

    /** Device copies of host caches: same layout, same bytes, addresses from cuMemAlloc. */
    private static List<MemorySegment> upload(TestCaches host) {
        List<MemorySegment> dev = new ArrayList<>();
        for (MemorySegment layer : host.layers) {
            Allocation d = new Allocation();
            JCudaDriver.cuMemAlloc(d, layer.byteSize());
            JCudaDriver.cuMemcpyHtoD(d, new CUdeviceptr().withByteOffset(layer.address()), layer.byteSize());
            dev.add(MemorySegment.ofAddress(d.address()).reinterpret(layer.byteSize()));
        }
        return dev;
    }

    /** A device pointer whose raw address the test can read (JCuda keeps it protected). */
    private static final class Allocation extends CUdeviceptr {
        long address() {
            return getNativePointer() + getByteOffset();
        }
    }

    private static void download(List<MemorySegment> dev, TestCaches host) {
        for (int i = 0; i < dev.size(); i++) {
            MemorySegment h = host.layers.get(i);
            JCudaDriver.cuMemcpyDtoH(new CUdeviceptr().withByteOffset(h.address()),
                    new CUdeviceptr().withByteOffset(dev.get(i).address()), h.byteSize());
        }
    }

    private static MemorySegment pinnedPage(Arena arena, long bytes) {
        MemorySegment page = arena.allocate(bytes, 4096);
        JCudaDriver.cuMemHostRegister(new CUdeviceptr().withByteOffset(page.address()), bytes, 0x03);
        return page;
    }

    @ParameterizedTest
    @MethodSource("cases")
    void gatherThenScatter_matchHostTransfer(KvFormat format, CudaKvTransfer.Mode mode) {
        CudaKvTransfer cuda = new CudaKvTransfer(mode, fatbin);
        KvLayout l = new KvLayout(4, format == KvFormat.MLA ? 1 : 8, format == KvFormat.MLA ? 576 : 128,
                org.lmcache4j.KvDtype.BFLOAT16, 16, 64, format);
        Random rnd = new Random(format.ordinal() * 2L + mode.ordinal());
        try (TestCaches host = new TestCaches(l); TestCaches back = new TestCaches(l); Arena arena = Arena.ofConfined()) {
            host.fillRandom(rnd.nextLong());
            List<MemorySegment> dev = upload(host);
            PagedCaches devCaches = PagedCaches.of(l, dev);
            for (int round = 0; round < 10; round++) {
                int n = 1 + rnd.nextInt(256);
                long[] slots = TestCaches.randomSlots(l, n, rnd);
                for (int t = 0; t < n; t++) {
                    slots[t] = rnd.nextInt(8) == 0 ? -1 : slots[t];
                }
                long bytes = l.chunkBytes(n);
                MemorySegment expected = arena.allocate(bytes).fill((byte) 0x5A);
                MemorySegment page = pinnedPage(arena, bytes).fill((byte) 0x5A);
                new HostKvTransfer().gather(host.view, slots, 0, n, expected);
                cuda.gather(devCaches, slots, 0, n, page);
                assertArrayEquals(expected.toArray(ValueLayout.JAVA_BYTE), page.toArray(ValueLayout.JAVA_BYTE));
                // Scatter the host page to fresh slots on the device and on the host: same caches.
                long[] to = TestCaches.randomSlots(l, n, rnd);
                new HostKvTransfer().scatter(expected, host.view, to, 0, n);
                cuda.scatter(page, devCaches, to, 0, n);
                download(dev, back);
                for (int layer = 0; layer < l.numLayers(); layer++) {
                    assertArrayEquals(host.layers.get(layer).toArray(ValueLayout.JAVA_BYTE),
                            back.layers.get(layer).toArray(ValueLayout.JAVA_BYTE), "layer " + layer);
                }
                JCudaDriver.cuMemHostUnregister(new CUdeviceptr().withByteOffset(page.address()));
            }
            dev.forEach(d -> JCudaDriver.cuMemFree(new CUdeviceptr().withByteOffset(d.address())));
        }
    }
}
