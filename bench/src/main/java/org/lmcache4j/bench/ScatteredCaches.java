package org.lmcache4j.bench;

import org.lmcache4j.KvDtype;
import org.lmcache4j.KvFormat;
import org.lmcache4j.KvLayout;
import org.lmcache4j.memory.SlabSource;
import org.lmcache4j.transfer.ChunkFormat;
import org.lmcache4j.transfer.PagedCaches;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;

import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Random;

/**
 * A serving engine's paged KV caches, one huge-page mapping per layer touched once at set-up,
 * and {@link #mappings} slot mappings of one chunk each, whose blocks are drawn at random
 * (fixed seed) from the whole cache.
 *
 * <p>Why several mappings: copying the same chunk every time would read the same 32 MiB, which
 * the 32 MiB L3 here partly keeps. Rotating over mappings that together cover 1 GiB keeps every
 * copy's source cold, as the KV of a prompt just computed would be. Every transfer benchmark
 * (engine, bare loops, contiguous reference) rotates the same way over the same memory.
 *
 * <p>The bare loops are the baseline the engine is measured against: the very copies
 * {@code HostKvTransfer} makes (one {@code MemorySegment.copy} per block, layer and plane), with
 * every offset computed once at set-up, so that whatever the engine adds shows as a ratio.
 */
@State(Scope.Benchmark)
public class ScatteredCaches {
    /** Tokens of a chunk (LMCache's default {@code chunk_size}). */
    static final int CHUNK_TOKENS = 256;

    /** {@code mistral7b} (32 MiB chunks), or {@code tiny} (256 KiB chunks) for the smoke test. */
    @Param("mistral7b")
    public String shape;
    /** Blocks of each layer's cache: 2048 makes 4 GiB of Mistral caches. */
    @Param("2048")
    public int numBlocks;
    /** Chunks to rotate over; also the engine pool's and the page ring's size in chunks. */
    @Param("32")
    public int mappings;

    KvLayout layout;
    PagedCaches view;
    /** Per mapping, the slot of each of its tokens. */
    long[][] slots;
    private final List<MemorySegment> layers = new ArrayList<>();
    private final SlabSource memory = SlabSource.best();
    /** Per mapping, the cache offset of each (plane, block) run. */
    private long[][] cacheOffsets;
    /** The page offset of each (layer, plane, block) run, in loop order. */
    private long[] pageOffsets;
    private long runBytes;
    private int nextMapping;
    private int nextSlice;

    @Setup(Level.Trial)
    public void map() {
        layout = layoutOf(shape, numBlocks);
        for (int l = 0; l < layout.numLayers(); l++) {
            MemorySegment cache = memory.map(SlabSource.roundUpToHugePage(layout.layerCacheBytes()));
            memory.prefault(cache);
            layers.add(cache);
        }
        view = PagedCaches.of(layout, layers);
        slots = randomMappings(new Random(42));
        runBytes = layout.blockSize() * layout.rowBytes();
        int blocks = CHUNK_TOKENS / layout.blockSize();
        int planes = layout.format().planes();
        cacheOffsets = new long[mappings][planes * blocks];
        for (int m = 0; m < mappings; m++) {
            for (int p = 0; p < planes; p++) {
                for (int b = 0; b < blocks; b++) {
                    cacheOffsets[m][p * blocks + b] = view.offset(p, slots[m][b * layout.blockSize()]);
                }
            }
        }
        ChunkFormat chunk = new ChunkFormat(layout);
        pageOffsets = new long[layout.numLayers() * planes * blocks];
        int i = 0;
        for (int l = 0; l < layout.numLayers(); l++) {
            for (int p = 0; p < planes; p++) {
                for (int b = 0; b < blocks; b++) {
                    pageOffsets[i++] = chunk.offset(p, l, b * layout.blockSize(), CHUNK_TOKENS);
                }
            }
        }
    }

    @TearDown(Level.Trial)
    public void unmap() {
        layers.forEach(memory::unmap);
        layers.clear();
    }

    static KvLayout layoutOf(String shape, int numBlocks) {
        return switch (shape) {
            case "mistral7b" -> KvLayout.mistral7b(numBlocks);
            case "tiny" -> new KvLayout(2, 2, 64, KvDtype.BFLOAT16, 16, numBlocks, KvFormat.FLASH_ATTN);
            default -> throw new IllegalArgumentException("unknown shape '" + shape + "' (mistral7b, tiny)");
        };
    }

    long chunkBytes() {
        return layout.chunkBytes(CHUNK_TOKENS);
    }

    List<MemorySegment> layers() {
        return layers;
    }

    /** The mapping whose turn it is; the rotation goes on. */
    int nextMapping() {
        int m = nextMapping;
        nextMapping = (m + 1) % mappings;
        return m;
    }

    /** The next chunk-sized contiguous slice of the caches, turning over all of them (GBs). */
    MemorySegment nextSlice() {
        long perLayer = layout.layerCacheBytes() / chunkBytes();
        if (perLayer == 0) {
            throw new IllegalStateException("a layer cache is smaller than a chunk: raise numBlocks");
        }
        int k = nextSlice;
        nextSlice = (int) ((k + 1) % (perLayer * layers.size()));
        return layers.get((int) (k / perLayer)).asSlice(k % perLayer * chunkBytes(), chunkBytes());
    }

    /** The bare gather: mapping {@code m}'s rows from the caches into {@code page}; returns the page. */
    MemorySegment gather(int m, MemorySegment page) {
        return copy(m, page, true);
    }

    /** The bare scatter: {@code page} back into mapping {@code m}'s rows; returns the page. */
    MemorySegment scatter(MemorySegment page, int m) {
        return copy(m, page, false);
    }

    private MemorySegment copy(int m, MemorySegment page, boolean toPage) {
        long[] cacheOff = cacheOffsets[m];
        int runsPerLayer = cacheOff.length;
        int i = 0;
        for (MemorySegment cache : layers) {
            for (int r = 0; r < runsPerLayer; r++, i++) {
                if (toPage) {
                    MemorySegment.copy(cache, cacheOff[r], page, pageOffsets[i], runBytes);
                } else {
                    MemorySegment.copy(page, pageOffsets[i], cache, cacheOff[r], runBytes);
                }
            }
        }
        return page;
    }

    /** Distinct random blocks for every mapping, so that each chunk's blocks lie all over the caches. */
    private long[][] randomMappings(Random rnd) {
        int bs = layout.blockSize();
        int blocksPerChunk = CHUNK_TOKENS / bs;
        if (mappings * blocksPerChunk > numBlocks) {
            throw new IllegalArgumentException(mappings + " mappings of " + blocksPerChunk + " blocks need more than "
                    + numBlocks + " blocks");
        }
        List<Integer> blocks = new ArrayList<>();
        for (int b = 0; b < numBlocks; b++) {
            blocks.add(b);
        }
        Collections.shuffle(blocks, rnd);
        long[][] out = new long[mappings][CHUNK_TOKENS];
        for (int m = 0; m < mappings; m++) {
            for (int t = 0; t < CHUNK_TOKENS; t++) {
                out[m][t] = (long) blocks.get(m * blocksPerChunk + t / bs) * bs + t % bs;
            }
        }
        return out;
    }
}
