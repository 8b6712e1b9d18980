package org.lmcache4j.transfer;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.lmcache4j.KvDtype;
import org.lmcache4j.KvFormat;
import org.lmcache4j.KvLayout;
import org.lmcache4j.PagedTestCaches;
import org.lmcache4j.TestCaches;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.List;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;

/**
 * The contract every {@link KvTransfer} keeps, checked against a row-by-row reference written
 * from the shapes alone: run it for each implementation by extending this class (the CUDA ones
 * on device caches, on the CPU-run CUDA driver).
 */
public abstract class KvTransferContract {
    /** The transfer under test, ready to copy to and from {@code caches}. */
    protected abstract KvTransfer transfer(PagedTestCaches caches);

    /** Caches of this layout where the transfer copies: host memory unless overridden. */
    protected PagedTestCaches caches(KvLayout layout) {
        return new TestCaches(layout);
    }

    /** A page the transfer may copy into and out of. */
    protected MemorySegment page(Arena arena, long bytes) {
        return arena.allocate(bytes, 4096);
    }

    static KvLayout layout(KvFormat format) {
        int heads = format == KvFormat.MLA ? 1 : 2;
        return new KvLayout(3, heads, 8, KvDtype.BFLOAT16, 4, 32, format);
    }

    /** Offset of a row computed straight from the shape, independently of {@link PagedCaches#offset}. */
    static long referenceOffset(KvLayout l, int plane, long slot) {
        long block = slot / l.blockSize();
        long inBlock = slot % l.blockSize();
        long row = l.rowBytes();
        return switch (l.format()) {
            case FLASH_ATTN -> (((plane * (long) l.numBlocks() + block) * l.blockSize()) + inBlock) * row;
            case BLOCKS_FIRST -> (((block * 2 + plane) * l.blockSize()) + inBlock) * row;
            case MLA -> ((block * l.blockSize()) + inBlock) * row;
        };
    }

    /** The page a correct gather produces, built row by row. */
    static byte[] referencePage(PagedTestCaches caches, long[] slots, int from, int to) {
        KvLayout l = caches.layout();
        List<MemorySegment> layers = caches.contents();
        int row = (int) l.rowBytes();
        int tokens = to - from;
        byte[] page = new byte[(int) l.chunkBytes(tokens)];
        for (int p = 0; p < l.format().planes(); p++) {
            for (int layer = 0; layer < l.numLayers(); layer++) {
                for (int t = 0; t < tokens; t++) {
                    long slot = slots[from + t];
                    if (slot < 0) {
                        continue;
                    }
                    int dst = ((p * l.numLayers() + layer) * tokens + t) * row;
                    MemorySegment.copy(layers.get(layer), ValueLayout.JAVA_BYTE, referenceOffset(l, p, slot),
                            page, dst, row);
                }
            }
        }
        return page;
    }

    @ParameterizedTest
    @EnumSource(KvFormat.class)
    void gather_randomSlots_matchesReference(KvFormat format) {
        KvLayout l = layout(format);
        Random rnd = new Random(format.ordinal());
        try (PagedTestCaches caches = caches(l); Arena arena = Arena.ofConfined()) {
            caches.fillRandom(7);
            long[] slots = TestCaches.randomSlots(l, 40, rnd);
            MemorySegment page = page(arena, l.chunkBytes(16));
            transfer(caches).gather(caches.view(), slots, 8, 24, page);
            assertArrayEquals(referencePage(caches, slots, 8, 24), page.toArray(ValueLayout.JAVA_BYTE));
        }
    }

    @ParameterizedTest
    @EnumSource(KvFormat.class)
    void gather_partialChunkWithHoles_copiesOnlyRealSlots(KvFormat format) {
        KvLayout l = layout(format);
        try (PagedTestCaches caches = caches(l); Arena arena = Arena.ofConfined()) {
            caches.fillRandom(8);
            // 11 tokens: contiguous runs across a block boundary, a hole, a lone token, reversed blocks.
            long[] slots = {5, 6, 7, 8, 9, -1, 30, 21, 22, 12, 13};
            MemorySegment page = page(arena, l.chunkBytes(slots.length));
            page.fill((byte) 0);
            transfer(caches).gather(caches.view(), slots, 0, slots.length, page);
            assertArrayEquals(referencePage(caches, slots, 0, slots.length), page.toArray(ValueLayout.JAVA_BYTE));
        }
    }

    @ParameterizedTest
    @EnumSource(KvFormat.class)
    void scatter_afterGather_roundTripsToOtherSlots(KvFormat format) {
        KvLayout l = layout(format);
        Random rnd = new Random(100 + format.ordinal());
        try (PagedTestCaches src = caches(l); PagedTestCaches dst = caches(l); Arena arena = Arena.ofConfined()) {
            src.fillRandom(9);
            dst.fillRandom(10);
            long[] from = TestCaches.randomSlots(l, 13, rnd);
            long[] to = TestCaches.randomSlots(l, 13, rnd);
            long[] others = otherSlots(l, to);
            byte[] othersBefore = dst.rows(others, 0, others.length);
            MemorySegment page = page(arena, l.chunkBytes(13));
            transfer(src).gather(src.view(), from, 0, 13, page);
            transfer(dst).scatter(page, dst.view(), to, 0, 13);
            assertArrayEquals(src.rows(from, 0, 13), dst.rows(to, 0, 13));
            assertArrayEquals(othersBefore, dst.rows(others, 0, others.length), "rows of other slots changed");
        }
    }

    private static long[] otherSlots(KvLayout l, long[] used) {
        java.util.Set<Long> taken = new java.util.HashSet<>();
        for (long s : used) {
            taken.add(s);
        }
        return java.util.stream.LongStream.range(0, l.numSlots()).filter(s -> !taken.contains(s)).toArray();
    }

    @ParameterizedTest
    @EnumSource(KvFormat.class)
    void scatter_skipsMinusOneSlots_leavingTheirRowsUnchanged(KvFormat format) {
        KvLayout l = layout(format);
        try (PagedTestCaches caches = caches(l); Arena arena = Arena.ofConfined()) {
            caches.fillRandom(11);
            byte[] before = caches.rows(new long[]{0, 1, 2, 3}, 0, 4);
            MemorySegment page = page(arena, l.chunkBytes(4));
            page.fill((byte) 0x5A);
            transfer(caches).scatter(page, caches.view(), new long[]{-1, -1, -1, -1}, 0, 4);
            assertArrayEquals(before, caches.rows(new long[]{0, 1, 2, 3}, 0, 4));
        }
    }
    /** Runs {@code copy} in one batch of layer {@code layer} and waits for it to land. */
    private static void inLayerBatch(KvTransfer t, PagedTestCaches caches, long[] slots, int layer,
                                     java.util.function.Consumer<TransferBatch> copy) {
        TransferBatch batch = t.beginLayer(caches.view(), slots, org.lmcache4j.CudaStream.DEFAULT, layer);
        copy.accept(batch);
        java.util.concurrent.CompletableFuture<Throwable> landed = new java.util.concurrent.CompletableFuture<>();
        batch.finish(landed::complete);
        org.junit.jupiter.api.Assertions.assertNull(landed.join(), "a layer batch failed");
        t.awaitIdle();
    }

    @ParameterizedTest
    @EnumSource(KvFormat.class)
    void gatherLayerByLayer_twoChunks_equalsTheWholeChunkGather(KvFormat format) {
        KvLayout l = layout(format);
        Random rnd = new Random(200 + format.ordinal());
        try (PagedTestCaches caches = caches(l); Arena arena = Arena.ofConfined()) {
            caches.fillRandom(12);
            long[] slots = TestCaches.randomSlots(l, 27, rnd);
            slots[20] = -1;
            MemorySegment first = page(arena, l.chunkBytes(16));
            MemorySegment second = page(arena, l.chunkBytes(11));
            first.fill((byte) 0);
            second.fill((byte) 0);
            KvTransfer t = transfer(caches);
            for (int layer = 0; layer < l.numLayers(); layer++) {
                inLayerBatch(t, caches, slots, layer, b -> {
                    b.gather(0, 16, first);
                    b.gather(16, 27, second);
                });
            }
            assertArrayEquals(referencePage(caches, slots, 0, 16), first.toArray(ValueLayout.JAVA_BYTE));
            assertArrayEquals(referencePage(caches, slots, 16, 27), second.toArray(ValueLayout.JAVA_BYTE));
        }
    }

    @ParameterizedTest
    @EnumSource(KvFormat.class)
    void scatterOneLayer_writesThatLayerOnly_andAllLayersRoundTrip(KvFormat format) {
        KvLayout l = layout(format);
        Random rnd = new Random(300 + format.ordinal());
        try (PagedTestCaches src = caches(l); PagedTestCaches dst = caches(l); Arena arena = Arena.ofConfined()) {
            src.fillRandom(13);
            dst.fillRandom(14);
            long[] from = TestCaches.randomSlots(l, 13, rnd);
            long[] to = TestCaches.randomSlots(l, 13, rnd);
            MemorySegment page = page(arena, l.chunkBytes(13));
            transfer(src).gather(src.view(), from, 0, 13, page);
            byte[] before = dst.rows(to, 0, 13);
            KvTransfer t = transfer(dst);
            inLayerBatch(t, dst, to, 1, b -> b.scatter(page, 0, 13));
            byte[] afterOne = dst.rows(to, 0, 13);
            byte[] wanted = src.rows(from, 0, 13);
            int layerBytes = (int) (l.format().planes() * 13 * l.rowBytes());
            for (int layer = 0; layer < l.numLayers(); layer++) {
                byte[] expected = layer == 1 ? wanted : before;
                assertArrayEquals(java.util.Arrays.copyOfRange(expected, layer * layerBytes, (layer + 1) * layerBytes),
                        java.util.Arrays.copyOfRange(afterOne, layer * layerBytes, (layer + 1) * layerBytes),
                        "layer " + layer + " after scattering layer 1 alone");
            }
            for (int layer = 0; layer < l.numLayers(); layer++) {
                if (layer != 1) {
                    inLayerBatch(t, dst, to, layer, b -> b.scatter(page, 0, 13));
                }
            }
            assertArrayEquals(wanted, dst.rows(to, 0, 13));
        }
    }
}
