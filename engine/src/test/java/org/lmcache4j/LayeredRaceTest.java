package org.lmcache4j;

import org.junit.jupiter.api.Test;

import java.util.Arrays;
import java.util.Random;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.atomic.AtomicInteger;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * A layer-by-layer operation raced by two of the caller's threads (the C ABI hands its handle to
 * any thread): a layer is copied at most once, and a close never frees pages that a copy still
 * writes into. Both races once let a store publish a layer it never copied, or write one store's
 * KV over another's chunks; each round here is short, and the rounds make the race likely.
 */
class LayeredRaceTest {
    /** 4 layers, 4 heads of 128, bf16: a layer of a 256-token chunk is 512 KiB, so a layer copy takes a while. */
    private static final KvLayout LAYOUT = new KvLayout(4, 4, 128, KvDtype.BFLOAT16, 16, 512, KvFormat.FLASH_ATTN);
    private static final int TOKENS = 2048; // 8 chunks
    private static final int ROUNDS = 8;

    private static EngineFixture fixture(int chunks) {
        return new EngineFixture(EngineConfig.builder()
                .maxLocalCpuSizeGb(chunks * LAYOUT.chunkBytes(256) / (double) EngineConfig.GB).build(), LAYOUT);
    }

    @Test
    void twoThreadsCopyingTheSameLayer_onlyOneCopiesIt() throws Exception {
        try (EngineFixture f = fixture(8)) {
            int[] tokens = TestCaches.randomTokens(TOKENS, new Random(1));
            long[] slots = TestCaches.randomSlots(LAYOUT, TOKENS, new Random(2));
            byte[] stored = f.caches.rows(slots, 0, TOKENS);
            for (int round = 0; round < ROUNDS; round++) {
                AtomicInteger accepted = new AtomicInteger();
                try (LayeredStore store = f.engine.storeLayers(KeyScope.NONE, tokens, slots, 0, CudaStream.DEFAULT)) {
                    CyclicBarrier start = new CyclicBarrier(2);
                    Runnable copyLayer0 = () -> {
                        try {
                            start.await();
                            store.saveLayer(0);
                            accepted.incrementAndGet();
                        } catch (IllegalArgumentException refused) {
                            // the other thread copied it: out of order for this one
                        } catch (Exception e) {
                            throw new AssertionError(e);
                        }
                    };
                    Thread other = Thread.ofPlatform().start(copyLayer0);
                    copyLayer0.run();
                    other.join();
                    assertEquals(1, accepted.get(), "round " + round + ": layer 0 copied twice");
                    assertEquals(1, store.nextLayer(), "round " + round + ": a layer was skipped");
                    for (int layer = 1; layer < LAYOUT.numLayers(); layer++) {
                        store.saveLayer(layer);
                    }
                }
                long[] to = TestCaches.randomSlots(LAYOUT, TOKENS, new Random(3));
                assertEquals(TOKENS, f.engine.retrieve(tokens, to, 0));
                assertArrayEquals(stored, f.caches.rows(to, 0, TOKENS), "round " + round + ": a layer was never copied");
                f.caches.fillRandom(42); // the slots read above hold the stored KV again
                f.engine.clear();
            }
        }
    }

    @Test
    void closingWhileAnotherThreadCopiesALayer_neverFreesPagesStillWrittenTo() throws Exception {
        try (EngineFixture f = fixture(8)) { // a pool of one prompt: the second store takes the first one's pages
            int[] first = TestCaches.randomTokens(TOKENS, new Random(4));
            int[] second = TestCaches.randomTokens(TOKENS, new Random(5));
            long[] all = TestCaches.randomSlots(LAYOUT, 2 * TOKENS, new Random(6));
            long[] firstSlots = Arrays.copyOfRange(all, 0, TOKENS);
            long[] secondSlots = Arrays.copyOfRange(all, TOKENS, 2 * TOKENS);
            byte[] secondRows = f.caches.rows(secondSlots, 0, TOKENS);
            for (int round = 0; round < ROUNDS; round++) {
                LayeredStore store = f.engine.storeLayers(KeyScope.NONE, first, firstSlots, 0, CudaStream.DEFAULT);
                CyclicBarrier start = new CyclicBarrier(2);
                Thread copier = Thread.ofPlatform().start(() -> {
                    try {
                        start.await();
                        store.saveLayer(0);
                    } catch (IllegalStateException closedFirst) {
                        // the close won the race: nothing copied
                    } catch (Exception e) {
                        throw new AssertionError(e);
                    }
                });
                start.await();
                store.close();
                int kept = f.engine.store(second, secondSlots, 0); // may skip chunks while the copy still holds pages
                copier.join();
                f.engine.awaitTransfers();
                long[] to = Arrays.copyOfRange(all, 0, TOKENS); // the first store's slots: free now
                int loaded = f.engine.retrieve(second, to, 0);
                assertEquals(kept, loaded);
                byte[] got = f.caches.rows(to, 0, loaded);
                byte[] want = rowsOfPrefix(secondRows, loaded);
                assertArrayEquals(want, got, "round " + round + ": a closed store's copy wrote into another chunk");
                f.caches.fillRandom(42);
                f.engine.clear();
            }
        }
    }

    /** The rows of the first {@code n} tokens out of {@link TestCaches#rows}' layer-major, plane-major bytes of TOKENS. */
    private static byte[] rowsOfPrefix(byte[] rows, int n) {
        int row = (int) LAYOUT.rowBytes();
        int planes = LAYOUT.format().planes();
        byte[] out = new byte[LAYOUT.numLayers() * planes * n * row];
        for (int block = 0; block < LAYOUT.numLayers() * planes; block++) {
            System.arraycopy(rows, block * TOKENS * row, out, block * n * row, n * row);
        }
        return out;
    }
}
