package org.lmcache4j.cli;

import org.lmcache4j.CudaStream;
import org.lmcache4j.KvLayout;
import org.lmcache4j.memory.SlabSource;
import org.lmcache4j.transfer.PagedCaches;

import java.lang.foreign.MemorySegment;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Deque;
import java.util.List;
import java.util.Random;

/**
 * A {@link ServingEngine} on the CPU: one paged cache per layer in host memory, and a block
 * allocator that hands a request free blocks in no particular order (after a few requests they
 * are scattered over the whole cache, as in a busy server) and takes them back when the request
 * finishes. Its rows are written where the engine reads them, so moving them is nothing.
 */
final class HostServingEngine implements ServingEngine {
    private final KvLayout layout;
    private final SlabSource memory = SlabSource.best();
    private final List<MemorySegment> layers = new ArrayList<>();
    private final PagedCaches caches;
    private final Deque<Integer> freeBlocks = new ArrayDeque<>();

    HostServingEngine(KvLayout layout, long seed) {
        this.layout = layout;
        long bytes = SlabSource.roundUpToHugePage(layout.layerCacheBytes());
        for (int l = 0; l < layout.numLayers(); l++) {
            MemorySegment cache = memory.map(bytes);
            memory.prefault(cache);
            layers.add(cache);
        }
        caches = PagedCaches.of(layout, layers);
        List<Integer> blocks = new ArrayList<>();
        for (int b = 0; b < layout.numBlocks(); b++) {
            blocks.add(b);
        }
        Collections.shuffle(blocks, new Random(seed));
        freeBlocks.addAll(blocks);
    }

    @Override
    public PagedCaches hostView() {
        return caches;
    }

    @Override
    public long[] addresses() {
        return layers.stream().mapToLong(MemorySegment::address).toArray();
    }

    @Override
    public int device() {
        return -1;
    }

    @Override
    public String deviceLabel() {
        return "cpu";
    }

    @Override
    public CudaStream stream() {
        return CudaStream.DEFAULT;
    }

    @Override
    public void toDevice(long[] slots, int from, int to) {
    }

    @Override
    public void fromDevice(long[] slots, int from, int to) {
    }

    @Override
    public void settle() {
    }

    /** The host caches' segments, one per layer (a device serving engine pins them as its mirror). */
    List<MemorySegment> layers() {
        return layers;
    }

    @Override
    public long[] allocate(int tokens) {
        int blocks = (tokens + layout.blockSize() - 1) / layout.blockSize();
        if (blocks > freeBlocks.size()) {
            throw new IllegalStateException("a " + tokens + "-token request needs " + blocks + " blocks; "
                    + freeBlocks.size() + " are free (raise --blocks)");
        }
        long[] slots = new long[tokens];
        int block = -1;
        for (int t = 0; t < tokens; t++) {
            if (t % layout.blockSize() == 0) {
                block = freeBlocks.pollFirst();
            }
            slots[t] = (long) block * layout.blockSize() + t % layout.blockSize();
        }
        return slots;
    }

    /** Returns a finished request's blocks to the back of the free list. */
    @Override
    public void free(long[] slots) {
        for (int t = 0; t < slots.length; t += layout.blockSize()) {
            freeBlocks.addLast((int) (slots[t] / layout.blockSize()));
        }
    }

    @Override
    public void close() {
        layers.forEach(memory::unmap);
        layers.clear();
    }
}
