package org.lmcache4j.bench.gpu;

import jcuda.driver.CUdeviceptr;
import jcuda.driver.JCudaDriver;
import org.lmcache4j.KvDtype;
import org.lmcache4j.KvFormat;
import org.lmcache4j.KvLayout;
import org.lmcache4j.cuda.CudaProbe;
import org.lmcache4j.transfer.CudaKvTransfer;
import org.lmcache4j.transfer.HostKvTransfer;
import org.lmcache4j.transfer.PagedCaches;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;

/**
 * The GPU check that {@code bench/gpu/check.sh run} runs on a machine with an NVIDIA GPU and no
 * JDK: byte-exact round trips of {@link CudaKvTransfer} against {@link HostKvTransfer} in every
 * format and both modes (random slot mappings with holes, poisoned pages), then the bandwidth of a
 * Mistral-7B chunk's store (gather) and retrieve (scatter) against pinned {@code cuMemcpy} of the
 * same bytes in the same run. Prints a table last. Exit status: 0 all exact, 1 a mismatch, 3 no GPU.
 */
public final class GpuCheck {
    private static final int ROUNDS = 10;
    private static final int BANDWIDTH_ITERATIONS = 40;

    private GpuCheck() {
    }

    public static void main(String[] args) throws IOException {
        CudaProbe.Result probe = CudaProbe.system();
        if (!probe.devicesPresent()) {
            System.out.println("GPU check: no GPU here (" + probe.reason() + "): nothing to check");
            System.exit(3);
        }
        byte[] fatbin = Files.readAllBytes(Path.of(System.getProperty("lmcache4j.cuda.fatbin",
                "native/build/kv_transfer.fatbin")));
        JCudaDriver.setExceptionsEnabled(true);
        JCudaDriver.cuInit(0);
        List<String> table = new ArrayList<>();
        long mismatches = 0;
        for (CudaKvTransfer.Mode mode : CudaKvTransfer.Mode.values()) {
            for (KvFormat format : KvFormat.values()) {
                long bad = roundTrips(mode, fatbin, format, new Random(format.ordinal() * 7L + mode.ordinal()));
                mismatches += bad;
                table.add(String.format("exact     %-5s %-12s %s", mode, format.configName(),
                        bad == 0 ? "ok" : bad + " mismatched bytes"));
            }
        }
        table.addAll(Bandwidth.measure(fatbin, BANDWIDTH_ITERATIONS));
        System.out.println("\n== LMCache4j GPU check (" + probe.reason() + ")");
        table.forEach(System.out::println);
        System.exit(mismatches == 0 ? 0 : 1);
    }

    /** Gather then scatter through the GPU and through the host, {@link #ROUNDS} times; mismatched bytes. */
    static long roundTrips(CudaKvTransfer.Mode mode, byte[] fatbin, KvFormat format, Random rnd) {
        KvLayout l = new KvLayout(4, format == KvFormat.MLA ? 1 : 8, format == KvFormat.MLA ? 576 : 128,
                KvDtype.BFLOAT16, 16, 64, format);
        long bad = 0;
        try (Arena arena = Arena.ofConfined()) {
            List<MemorySegment> host = Device.hostCaches(arena, l, rnd);
            List<MemorySegment> dev = Device.upload(host);
            PagedCaches hostView = PagedCaches.of(l, host);
            PagedCaches devView = PagedCaches.of(l, dev);
            HostKvTransfer reference = new HostKvTransfer();
            CudaKvTransfer cuda = new CudaKvTransfer(mode, () -> fatbin, 0, dev.get(0).address());
            cuda.prepare(devView);
            for (int round = 0; round < ROUNDS; round++) {
                int n = 1 + rnd.nextInt(256);
                long[] from = Device.randomSlots(l, n, rnd, true);
                long bytes = l.chunkBytes(n);
                MemorySegment expected = arena.allocate(bytes).fill((byte) 0x5A);
                MemorySegment page = Device.pinned(arena, bytes).fill((byte) 0x5A);
                reference.gather(hostView, from, 0, n, expected);
                cuda.gather(devView, from, 0, n, page);
                bad += Device.differingBytes(expected, page);
                long[] to = Device.randomSlots(l, n, rnd, true);
                reference.scatter(expected, hostView, to, 0, n);
                cuda.scatter(page, devView, to, 0, n);
                for (int layer = 0; layer < l.numLayers(); layer++) {
                    bad += Device.differingBytes(host.get(layer), Device.download(arena, dev.get(layer)));
                }
                Device.unpin(page);
            }
            cuda.close();
            dev.forEach(Device::free);
        }
        return bad;
    }

    /** The bandwidth table: kernel and DMA store and retrieve of one Mistral chunk, against cuMemcpy. */
    static final class Bandwidth {
        private Bandwidth() {
        }

        static List<String> measure(byte[] fatbin, int iterations) {
            KvLayout l = KvLayout.mistral7b(2048);
            Random rnd = new Random(42);
            List<String> lines = new ArrayList<>();
            try (Arena arena = Arena.ofConfined()) {
                List<MemorySegment> dev = Device.allocate(l);
                PagedCaches devView = PagedCaches.of(l, dev);
                long bytes = l.chunkBytes(256);
                MemorySegment page = Device.pinned(arena, bytes);
                long[] slots = Device.randomSlots(l, 256, rnd, false);
                CUdeviceptr contiguous = new CUdeviceptr();
                JCudaDriver.cuMemAlloc(contiguous, bytes);
                CUdeviceptr pagePtr = new CUdeviceptr().withByteOffset(page.address());
                double dtoh = gbps(bytes, iterations, () -> JCudaDriver.cuMemcpyDtoH(pagePtr, contiguous, bytes));
                double htod = gbps(bytes, iterations, () -> JCudaDriver.cuMemcpyHtoD(contiguous, pagePtr, bytes));
                lines.add(String.format("bandwidth cuMemcpy D->H pinned %6.1f GB/s   (baseline for store)", dtoh));
                lines.add(String.format("bandwidth cuMemcpy H->D pinned %6.1f GB/s   (baseline for retrieve)", htod));
                for (CudaKvTransfer.Mode mode : CudaKvTransfer.Mode.values()) {
                    try (CudaKvTransfer cuda = new CudaKvTransfer(mode, () -> fatbin, 0, dev.get(0).address())) {
                        cuda.prepare(devView);
                        double store = gbps(bytes, iterations, () -> cuda.gather(devView, slots, 0, 256, page));
                        double retrieve = gbps(bytes, iterations, () -> cuda.scatter(page, devView, slots, 0, 256));
                        lines.add(String.format("bandwidth %-6s store    %6.1f GB/s = %.2f of cuMemcpy (goal >= 0.80)",
                                mode, store, store / dtoh));
                        lines.add(String.format("bandwidth %-6s retrieve %6.1f GB/s = %.2f of cuMemcpy (goal >= 0.80)",
                                mode, retrieve, retrieve / htod));
                    }
                }
                JCudaDriver.cuMemFree(contiguous);
                Device.unpin(page);
                dev.forEach(Device::free);
            }
            return lines;
        }

        /** GB/s of {@code op} moving {@code bytes}, after a few warm-up runs. */
        private static double gbps(long bytes, int iterations, Runnable op) {
            for (int i = 0; i < 3; i++) {
                op.run();
            }
            JCudaDriver.cuCtxSynchronize();
            long start = System.nanoTime();
            for (int i = 0; i < iterations; i++) {
                op.run();
            }
            JCudaDriver.cuCtxSynchronize();
            return (double) bytes * iterations / (System.nanoTime() - start);
        }
    }

    /** Small helpers over device and pinned memory. */
    static final class Device {
        private Device() {
        }

        static List<MemorySegment> hostCaches(Arena arena, KvLayout l, Random rnd) {
            List<MemorySegment> host = new ArrayList<>();
            for (int layer = 0; layer < l.numLayers(); layer++) {
                MemorySegment s = arena.allocate(l.layerCacheBytes(), 64);
                for (long off = 0; off + 8 <= s.byteSize(); off += 8) {
                    s.set(ValueLayout.JAVA_LONG_UNALIGNED, off, rnd.nextLong());
                }
                host.add(s);
            }
            return host;
        }

        static List<MemorySegment> allocate(KvLayout l) {
            List<MemorySegment> dev = new ArrayList<>();
            for (int layer = 0; layer < l.numLayers(); layer++) {
                CUdeviceptr d = new CUdeviceptr();
                JCudaDriver.cuMemAlloc(d, l.layerCacheBytes());
                JCudaDriver.cuMemsetD8(d, (byte) layer, l.layerCacheBytes());
                dev.add(MemorySegment.ofAddress(address(d)).reinterpret(l.layerCacheBytes()));
            }
            return dev;
        }

        static List<MemorySegment> upload(List<MemorySegment> host) {
            List<MemorySegment> dev = new ArrayList<>();
            for (MemorySegment layer : host) {
                CUdeviceptr d = new CUdeviceptr();
                JCudaDriver.cuMemAlloc(d, layer.byteSize());
                JCudaDriver.cuMemcpyHtoD(d, new CUdeviceptr().withByteOffset(layer.address()), layer.byteSize());
                dev.add(MemorySegment.ofAddress(address(d)).reinterpret(layer.byteSize()));
            }
            return dev;
        }

        static MemorySegment download(Arena arena, MemorySegment dev) {
            MemorySegment host = arena.allocate(dev.byteSize());
            JCudaDriver.cuMemcpyDtoH(new CUdeviceptr().withByteOffset(host.address()),
                    new CUdeviceptr().withByteOffset(dev.address()), dev.byteSize());
            return host;
        }

        static void free(MemorySegment dev) {
            JCudaDriver.cuMemFree(new CUdeviceptr().withByteOffset(dev.address()));
        }

        static MemorySegment pinned(Arena arena, long bytes) {
            MemorySegment page = arena.allocate(bytes, 4096);
            JCudaDriver.cuMemHostRegister(new CUdeviceptr().withByteOffset(page.address()), bytes, 0x03);
            return page;
        }

        static void unpin(MemorySegment page) {
            JCudaDriver.cuMemHostUnregister(new CUdeviceptr().withByteOffset(page.address()));
        }

        /** Slots for {@code n} tokens in distinct random blocks; with {@code holes}, about one in eight is -1. */
        static long[] randomSlots(KvLayout l, int n, Random rnd, boolean holes) {
            List<Integer> blocks = new ArrayList<>();
            for (int b = 0; b < l.numBlocks(); b++) {
                blocks.add(b);
            }
            java.util.Collections.shuffle(blocks, rnd);
            long[] slots = new long[n];
            for (int t = 0; t < n; t++) {
                slots[t] = holes && rnd.nextInt(8) == 0 ? -1
                        : (long) blocks.get(t / l.blockSize()) * l.blockSize() + t % l.blockSize();
            }
            return slots;
        }

        static long differingBytes(MemorySegment a, MemorySegment b) {
            long bad = 0;
            for (long i = 0; i < a.byteSize(); i++) {
                if (a.get(ValueLayout.JAVA_BYTE, i) != b.get(ValueLayout.JAVA_BYTE, i)) {
                    bad++;
                }
            }
            return bad;
        }

        /** The raw address of a device pointer (JCuda keeps it protected). */
        private static long address(CUdeviceptr d) {
            return new Exposed(d).address();
        }

        private static final class Exposed extends CUdeviceptr {
            private final long address;

            Exposed(CUdeviceptr d) {
                super(d, 0);
                this.address = getNativePointer() + getByteOffset();
            }

            long address() {
                return address;
            }
        }
    }
}
