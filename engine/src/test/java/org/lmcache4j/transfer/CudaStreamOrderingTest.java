package org.lmcache4j.transfer;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.lmcache4j.CudaEmulator;
import org.lmcache4j.CudaStream;
import org.lmcache4j.DeviceCaches;
import org.lmcache4j.KvDtype;
import org.lmcache4j.KvFormat;
import org.lmcache4j.KvLayout;
import org.lmcache4j.TestCaches;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

/**
 * Invariant 7 on the CPU-run CUDA driver with its stream delay on: a store reads KV only after
 * the caller's stream wrote it, and the caller's stream reads a retrieve's KV only after it
 * landed, for a stream of the caller's own and for the legacy default stream. Each check is also
 * run with the transfer's two waits removed (its test-only constructor argument
 * {@code orderWithCaller}) and must then see stale bytes: the check is one that can fail.
 *
 * <p>Each race is made one-sided. For a store, the caller's "forward pass" first computes for
 * 200 ms (a host function on its stream, {@code cuLaunchHostFunc}) and then writes its KV; an
 * unordered gather runs at once. For a retrieve, every stream operation takes 5 ms (the driver's
 * delay): the scatter needs three or more, the caller's first read-back one.
 */
@Tag("cuda")
class CudaStreamOrderingTest {
    private static final int DELAY_US = 5000;
    private static final long COMPUTE_MS = 200;
    private static final KvLayout LAYOUT = new KvLayout(8, 2, 16, KvDtype.BFLOAT16, 64, 64, KvFormat.FLASH_ATTN);

    private CudaEmulator emulator;
    private CudaEmulator.Counts before;

    static Stream<Arguments> cases() {
        List<Arguments> out = new ArrayList<>();
        for (CudaKvTransfer.Mode mode : CudaKvTransfer.Mode.values()) {
            for (boolean defaultStream : new boolean[] {false, true}) {
                out.add(Arguments.of(mode, defaultStream));
            }
        }
        return out.stream();
    }

    @BeforeEach
    void emulator() {
        emulator = CudaEmulator.require();
        before = emulator.counts();
    }

    @AfterEach
    void restore() {
        emulator.delayMicros(0);
        emulator.assertNothingLeaked(before);
    }

    @ParameterizedTest
    @MethodSource("cases")
    void store_readsKvOnlyAfterTheCallersWork(CudaKvTransfer.Mode mode, boolean defaultStream) throws Exception {
        byte[][] ordered = expectedStore(mode, defaultStream, true);
        assertArrayEquals(ordered[0], ordered[1]);
        byte[][] unordered = expectedStore(mode, defaultStream, false);
        assertFalse(java.util.Arrays.equals(unordered[0], unordered[1]),
                "without the wait on the caller's stream the gather should have read stale KV");
    }

    @ParameterizedTest
    @MethodSource("cases")
    void retrieve_landsBeforeTheCallersNextWork(CudaKvTransfer.Mode mode, boolean defaultStream) throws Exception {
        byte[][] ordered = retrieved(mode, defaultStream, true);
        assertArrayEquals(ordered[0], ordered[1]);
        byte[][] unordered = retrieved(mode, defaultStream, false);
        assertFalse(java.util.Arrays.equals(unordered[0], unordered[1]),
                "without making the caller's stream wait it should have read the KV before the scatter landed");
    }

    /** {expected page, gathered page}: the caller writes fresh KV on its stream, a store gathers it at once. */
    private byte[][] expectedStore(CudaKvTransfer.Mode mode, boolean defaultStream, boolean ordered) throws Exception {
        Random rnd = new Random(1);
        long[] slots = TestCaches.randomSlots(LAYOUT, 256, rnd);
        try (DeviceCaches caches = new DeviceCaches(LAYOUT, 0); Arena arena = Arena.ofConfined()) {
            caches.fillRandom(2);
            long stream = defaultStream ? 0 : caches.memory().createStream();
            CudaKvTransfer transfer = transfer(mode, caches, ordered);
            MemorySegment page = arena.allocate(LAYOUT.chunkBytes(256), 4096);
            caches.memory().pin(page);
            try {
                caches.writeRows(slots, 0, 256, 3, stream, () -> HostFunction.sleep(stream, COMPUTE_MS));
                TransferBatch batch = transfer.begin(caches.view(), slots, new CudaStream(stream));
                batch.gather(0, 256, page);
                landed(batch);
                caches.memory().synchronize(stream);
                MemorySegment expected = arena.allocate(LAYOUT.chunkBytes(256));
                new HostKvTransfer().gather(caches.expected().view(), slots, 0, 256, expected);
                return new byte[][] {expected.toArray(ValueLayout.JAVA_BYTE), page.toArray(ValueLayout.JAVA_BYTE)};
            } finally {
                emulator.delayMicros(0);
                transfer.close();
                caches.memory().unpin(page);
                if (stream != 0) {
                    caches.memory().destroyStream(stream);
                }
            }
        }
    }

    /** {page's rows, rows the caller read}: a retrieve scatters, the caller reads the blocks at once after. */
    private byte[][] retrieved(CudaKvTransfer.Mode mode, boolean defaultStream, boolean ordered) throws Exception {
        Random rnd = new Random(4);
        long[] slots = TestCaches.randomSlots(LAYOUT, 512, rnd);
        try (DeviceCaches caches = new DeviceCaches(LAYOUT, 0); TestCaches source = new TestCaches(LAYOUT);
             Arena arena = Arena.ofConfined()) {
            caches.fillRandom(5);
            source.fillRandom(6);
            long stream = defaultStream ? 0 : caches.memory().createStream();
            CudaKvTransfer transfer = transfer(mode, caches, ordered);
            List<MemorySegment> pages = new ArrayList<>();
            for (int c = 0; c < 2; c++) {
                MemorySegment page = arena.allocate(LAYOUT.chunkBytes(256), 4096);
                new HostKvTransfer().gather(source.view, slots, c * 256, (c + 1) * 256, page);
                caches.memory().pin(page);
                pages.add(page);
            }
            try {
                emulator.delayMicros(DELAY_US);
                TransferBatch batch = transfer.begin(caches.view(), slots, new CudaStream(stream));
                for (int c = 0; c < 2; c++) {
                    batch.scatter(pages.get(c), c * 256, (c + 1) * 256);
                }
                CompletableFuture<Throwable> landed = new CompletableFuture<>();
                batch.finish(landed::complete);
                caches.readBack(stream); // the caller's next work: it must see the loaded KV
                emulator.delayMicros(0);
                assertFalse(landed.get() != null, "the scatter failed on the device");
                return new byte[][] {source.rows(slots, 0, 512), caches.expected().rows(slots, 0, 512)};
            } finally {
                emulator.delayMicros(0);
                transfer.close();
                pages.forEach(caches.memory()::unpin);
                if (stream != 0) {
                    caches.memory().destroyStream(stream);
                }
            }
        }
    }

    private CudaKvTransfer transfer(CudaKvTransfer.Mode mode, DeviceCaches caches, boolean ordered) throws IOException {
        byte[] fatbin = Files.readAllBytes(emulator.fatbin);
        CudaKvTransfer t = new CudaKvTransfer(mode, () -> fatbin, 0, caches.addresses()[0], ordered);
        t.prepare(caches.view());
        return t;
    }

    private static void landed(TransferBatch batch) throws Exception {
        CompletableFuture<Throwable> done = new CompletableFuture<>();
        batch.finish(done::complete);
        Throwable failure = done.get();
        if (failure != null) {
            throw new AssertionError("the copies failed on the device", failure);
        }
    }
}
