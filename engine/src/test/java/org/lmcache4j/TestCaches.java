package org.lmcache4j;

import org.lmcache4j.transfer.PagedCaches;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Random;

/** Paged KV caches in host memory, as a serving engine would hold them, with helpers to check rows. */
public final class TestCaches implements PagedTestCaches {
    public final KvLayout layout;
    private final Arena arena = Arena.ofShared();
    public final List<MemorySegment> layers = new ArrayList<>();
    public final PagedCaches view;

    public TestCaches(KvLayout layout) {
        this.layout = layout;
        for (int l = 0; l < layout.numLayers(); l++) {
            layers.add(arena.allocate(layout.layerCacheBytes(), 64));
        }
        view = PagedCaches.of(layout, layers);
    }

    @Override
    public KvLayout layout() {
        return layout;
    }

    @Override
    public PagedCaches view() {
        return view;
    }

    @Override
    public List<MemorySegment> contents() {
        return layers;
    }

    @Override
    public long[] addresses() {
        return layers.stream().mapToLong(MemorySegment::address).toArray();
    }

    @Override
    public void fillRandom(long seed) {
        Random rnd = new Random(seed);
        for (MemorySegment s : layers) {
            for (long off = 0; off + 8 <= s.byteSize(); off += 8) {
                s.set(ValueLayout.JAVA_LONG_UNALIGNED, off, rnd.nextLong());
            }
        }
    }

    public void zero() {
        layers.forEach(s -> s.fill((byte) 0));
    }

    /** Every row of tokens [from, to) at their slots, layer by layer, plane by plane; -1 slots are skipped. */
    @Override
    public byte[] rows(long[] slots, int from, int to) {
        int row = (int) layout.rowBytes();
        int planes = layout.format().planes();
        byte[] out = new byte[layout.numLayers() * planes * (to - from) * row];
        int pos = 0;
        for (int l = 0; l < layout.numLayers(); l++) {
            for (int p = 0; p < planes; p++) {
                for (int t = from; t < to; t++) {
                    if (slots[t] >= 0) {
                        MemorySegment.copy(layers.get(l), ValueLayout.JAVA_BYTE, view.offset(p, slots[t]), out, pos, row);
                    }
                    pos += row;
                }
            }
        }
        return out;
    }

    /** Slots for {@code n} tokens in distinct random blocks, like a serving engine's allocator hands out. */
    public static long[] randomSlots(KvLayout layout, int n, Random rnd) {
        int blocksNeeded = (n + layout.blockSize() - 1) / layout.blockSize();
        if (blocksNeeded > layout.numBlocks()) {
            throw new IllegalArgumentException("not enough blocks");
        }
        List<Integer> blocks = new ArrayList<>();
        for (int b = 0; b < layout.numBlocks(); b++) {
            blocks.add(b);
        }
        Collections.shuffle(blocks, rnd);
        long[] slots = new long[n];
        for (int t = 0; t < n; t++) {
            slots[t] = (long) blocks.get(t / layout.blockSize()) * layout.blockSize() + t % layout.blockSize();
        }
        return slots;
    }

    public static int[] randomTokens(int n, Random rnd) {
        int[] tokens = new int[n];
        for (int i = 0; i < n; i++) {
            tokens[i] = rnd.nextInt(32000);
        }
        return tokens;
    }

    @Override
    public void close() {
        arena.close();
    }
}
