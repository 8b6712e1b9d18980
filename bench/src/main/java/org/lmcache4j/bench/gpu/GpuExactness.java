package org.lmcache4j.bench.gpu;

import org.lmcache4j.CudaStream;
import org.lmcache4j.KvDtype;
import org.lmcache4j.KvFormat;
import org.lmcache4j.KvLayout;
import org.lmcache4j.transfer.CudaKvTransfer;
import org.lmcache4j.transfer.DeviceMemory;
import org.lmcache4j.transfer.HostKvTransfer;
import org.lmcache4j.transfer.PagedCaches;
import org.lmcache4j.transfer.TransferBatch;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CompletableFuture;

/**
 * The CUDA transfer against the host transfer, byte for byte: random slot mappings with holes,
 * pages poisoned first, gathers then scatters to other slots, on a stream of the check's own
 * that the copies are ordered with; odd rounds copy one layer at a time (use_layerwise's batches).
 * Counts mismatched bytes.
 */
final class GpuExactness {
    private static final int ROUNDS = 10;

    private GpuExactness() {
    }

    static long check(DeviceMemory memory, CudaKvTransfer.Mode mode, byte[] fatbin, List<String> table) {
        long total = 0;
        for (KvFormat format : KvFormat.values()) {
            long bad = roundTrips(memory, mode, fatbin, format, new Random(format.ordinal() * 7L + mode.ordinal()));
            total += bad;
            table.add(String.format("exact      %-6s %-12s %s", mode, format.configName(),
                    bad == 0 ? "ok" : bad + " mismatched bytes"));
        }
        return total;
    }

    private static long roundTrips(DeviceMemory memory, CudaKvTransfer.Mode mode, byte[] fatbin, KvFormat format,
                                   Random rnd) {
        KvLayout l = new KvLayout(4, format == KvFormat.MLA ? 1 : 8, format == KvFormat.MLA ? 576 : 128,
                KvDtype.BFLOAT16, 16, 64, format);
        long bad = 0;
        long stream = memory.createStream();
        List<Long> device = new ArrayList<>();
        try (Arena arena = Arena.ofConfined()) {
            List<MemorySegment> host = new ArrayList<>();
            for (int layer = 0; layer < l.numLayers(); layer++) {
                MemorySegment s = arena.allocate(l.layerCacheBytes(), 64);
                for (long off = 0; off + 8 <= s.byteSize(); off += 8) {
                    s.set(ValueLayout.JAVA_LONG_UNALIGNED, off, rnd.nextLong());
                }
                host.add(s);
                long d = memory.allocate(l.layerCacheBytes());
                device.add(d);
                memory.upload(s, d, s.byteSize(), stream);
            }
            PagedCaches hostView = PagedCaches.of(l, host);
            PagedCaches devView = PagedCaches.ofAddresses(l, device.stream().mapToLong(Long::longValue).toArray());
            HostKvTransfer reference = new HostKvTransfer();
            try (CudaKvTransfer cuda = new CudaKvTransfer(mode, () -> fatbin, memory.device(), device.getFirst())) {
                cuda.prepare(devView);
                for (int round = 0; round < ROUNDS; round++) {
                    int n = 1 + rnd.nextInt(256);
                    boolean layered = round % 2 == 1;
                    long[] from = randomSlots(l, n, rnd);
                    long bytes = l.chunkBytes(n);
                    MemorySegment expected = arena.allocate(bytes).fill((byte) 0x5A);
                    MemorySegment page = arena.allocate(bytes, 4096).fill((byte) 0x5A);
                    memory.pin(page);
                    try {
                        reference.gather(hostView, from, 0, n, expected);
                        copy(cuda, devView, from, stream, layered, b -> b.gather(0, n, page));
                        bad += differing(expected, page);
                        long[] to = randomSlots(l, n, rnd);
                        reference.scatter(expected, hostView, to, 0, n);
                        copy(cuda, devView, to, stream, layered, b -> b.scatter(page, 0, n));
                        for (int layer = 0; layer < l.numLayers(); layer++) {
                            MemorySegment back = arena.allocate(l.layerCacheBytes());
                            memory.download(device.get(layer), back, back.byteSize(), stream); // after the scatter
                            memory.synchronize(stream);
                            bad += differing(host.get(layer), back);
                        }
                    } finally {
                        memory.unpin(page);
                    }
                }
            }
        } finally {
            device.forEach(memory::free);
            memory.destroyStream(stream);
        }
        return bad;
    }

    /** The copies in one batch, or ({@code layered}) in one batch per layer, each landed before the next. */
    private static void copy(CudaKvTransfer cuda, PagedCaches view, long[] slots, long stream, boolean layered,
                             java.util.function.Consumer<TransferBatch> copies) {
        if (!layered) {
            run(cuda.begin(view, slots, new CudaStream(stream)), copies);
            return;
        }
        for (int layer = 0; layer < view.layout().numLayers(); layer++) {
            run(cuda.beginLayer(view, slots, new CudaStream(stream), layer), copies);
        }
    }

    private static void run(TransferBatch batch, java.util.function.Consumer<TransferBatch> copies) {
        copies.accept(batch);
        CompletableFuture<Throwable> landed = new CompletableFuture<>();
        batch.finish(landed::complete);
        Throwable failure = landed.join();
        if (failure != null) {
            throw new IllegalStateException("the copies failed on the device", failure);
        }
    }

    /** Slots for {@code n} tokens in distinct random blocks, about one in eight -1. */
    static long[] randomSlots(KvLayout l, int n, Random rnd) {
        List<Integer> blocks = new ArrayList<>();
        for (int b = 0; b < l.numBlocks(); b++) {
            blocks.add(b);
        }
        Collections.shuffle(blocks, rnd);
        long[] slots = new long[n];
        for (int t = 0; t < n; t++) {
            slots[t] = rnd.nextInt(8) == 0 ? -1 : (long) blocks.get(t / l.blockSize()) * l.blockSize() + t % l.blockSize();
        }
        return slots;
    }

    static long differing(MemorySegment a, MemorySegment b) {
        long bad = 0;
        for (long i = 0; i < a.byteSize(); i++) {
            if (a.get(ValueLayout.JAVA_BYTE, i) != b.get(ValueLayout.JAVA_BYTE, i)) {
                bad++;
            }
        }
        return bad;
    }
}
