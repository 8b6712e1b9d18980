package org.lmcache4j.bench.model;

import org.lmcache4j.KvLayout;
import org.lmcache4j.transfer.PagedCaches;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Deque;
import java.util.List;
import java.util.Random;

/**
 * The reference model's KV cache as a serving engine keeps it: one fp32 paged cache per layer in
 * host memory, in vLLM's FLASH_ATTN format {@code [2, num_blocks, block_size, kv_heads, head_size]},
 * and a block allocator that hands out free blocks in shuffled order (as in a busy server, a
 * request's blocks are scattered) and takes them back when the request ends.
 */
public final class PagedKvCache implements AutoCloseable {
    private static final ValueLayout.OfFloat FLOAT = ValueLayout.JAVA_FLOAT;
    private static final int K = 0;
    private static final int V = 1;

    private final Arena arena = Arena.ofShared();
    private final KvLayout layout;
    private final List<MemorySegment> layers = new ArrayList<>();
    private final PagedCaches caches;
    private final Deque<Integer> freeBlocks = new ArrayDeque<>();

    public PagedKvCache(KvLayout layout, long seed) {
        this.layout = layout;
        for (int l = 0; l < layout.numLayers(); l++) {
            layers.add(arena.allocate(layout.layerCacheBytes(), 64));
        }
        caches = PagedCaches.of(layout, layers);
        List<Integer> blocks = new ArrayList<>();
        for (int b = 0; b < layout.numBlocks(); b++) {
            blocks.add(b);
        }
        Collections.shuffle(blocks, new Random(seed));
        freeBlocks.addAll(blocks);
    }

    public KvLayout layout() {
        return layout;
    }

    /** The per-layer caches, to register with the engine. */
    public List<MemorySegment> layers() {
        return layers;
    }

    /** Whether {@link #allocate} would find blocks for {@code tokens} tokens now. */
    public boolean canAllocate(int tokens) {
        return (tokens + layout.blockSize() - 1) / layout.blockSize() <= freeBlocks.size();
    }

    /** Slots for a request of {@code tokens} tokens, in freshly allocated blocks. */
    public long[] allocate(int tokens) {
        int bs = layout.blockSize();
        int blocks = (tokens + bs - 1) / bs;
        if (blocks > freeBlocks.size()) {
            throw new IllegalStateException("a " + tokens + "-token request needs " + blocks + " blocks; "
                    + freeBlocks.size() + " are free");
        }
        long[] slots = new long[tokens];
        int block = -1;
        for (int t = 0; t < tokens; t++) {
            if (t % bs == 0) {
                block = freeBlocks.pollFirst();
            }
            slots[t] = (long) block * bs + t % bs;
        }
        return slots;
    }

    /** Returns a finished request's blocks. */
    public void free(long[] slots) {
        for (int t = 0; t < slots.length; t += layout.blockSize()) {
            int block = (int) (slots[t] / layout.blockSize());
            poison(block);
            freeBlocks.addLast(block);
        }
    }

    /**
     * Fills a freed block with NaN: a later request that gets it must write every row it reads, so
     * a retrieve that forgot a row can never pass the exactness check on a previous request's KV.
     */
    private void poison(int block) {
        for (MemorySegment layer : layers) {
            for (int plane = 0; plane < layout.format().planes(); plane++) {
                long first = caches.offset(plane, (long) block * layout.blockSize());
                layer.asSlice(first, layout.blockSize() * layout.rowBytes()).fill((byte) 0xFF); // 0xFFFFFFFF is a NaN
            }
        }
    }

    /** Writes one token's K and V rows ({@code kv_heads * head_size} floats each) of {@code layer}. */
    void write(int layer, long slot, float[] k, float[] v) {
        MemorySegment cache = layers.get(layer);
        MemorySegment.copy(k, 0, cache, FLOAT, caches.offset(K, slot), k.length);
        MemorySegment.copy(v, 0, cache, FLOAT, caches.offset(V, slot), v.length);
    }

    /** Reads the K and V rows of {@code layer} at {@code slots[0..n)} into {@code [n][kvDim]} arrays. */
    void read(int layer, long[] slots, int n, float[] keys, float[] values) {
        MemorySegment cache = layers.get(layer);
        int row = layout.numKvHeads() * layout.headSize();
        for (int t = 0; t < n; t++) {
            MemorySegment.copy(cache, FLOAT, caches.offset(K, slots[t]), keys, t * row, row);
            MemorySegment.copy(cache, FLOAT, caches.offset(V, slots[t]), values, t * row, row);
        }
    }

    @Override
    public void close() {
        arena.close();
    }
}
