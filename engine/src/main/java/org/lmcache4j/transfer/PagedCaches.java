package org.lmcache4j.transfer;

import org.lmcache4j.KvFormat;
import org.lmcache4j.KvLayout;

import java.lang.foreign.MemorySegment;
import java.util.List;

/**
 * The serving engine's paged KV caches, one per layer, and where each token's row lies in them.
 *
 * <pre>
 *  FLASH_ATTN    [2, num_blocks, block_size, row]   offset(p, s) = (p * num_slots + s) * ROW
 *  BLOCKS_FIRST  [num_blocks, 2, block_size, row]   offset(p, s) = ((s / bs * 2 + p) * bs + s % bs) * ROW
 *  MLA           [num_blocks, block_size, row]      offset(0, s) = s * ROW
 *
 *  s = slot = block_id * block_size + offset in block;  ROW = num_kv_heads * head_size * elem
 * </pre>
 *
 * Consecutive slots are adjacent rows everywhere inside a block, and across blocks too in
 * FLASH_ATTN and MLA (the blocks of a plane are back to back): {@link #contiguousAcrossBlocks()}.
 */
public final class PagedCaches {
    private final KvLayout layout;
    private final MemorySegment[] layers;

    private PagedCaches(KvLayout layout, MemorySegment[] layers) {
        this.layout = layout;
        this.layers = layers;
    }

    /**
     * Caches given as raw addresses, as a serving engine's {@code data_ptr()} gives them: each is
     * trusted to span {@link KvLayout#layerCacheBytes()} bytes.
     */
    public static PagedCaches ofAddresses(KvLayout layout, long[] addresses) {
        if (addresses.length != layout.numLayers()) {
            throw new IllegalArgumentException("expected " + layout.numLayers() + " layer caches, got "
                    + addresses.length);
        }
        MemorySegment[] segs = new MemorySegment[addresses.length];
        for (int i = 0; i < addresses.length; i++) {
            if (addresses[i] == 0) {
                throw new IllegalArgumentException("layer " + i + " cache address is null");
            }
            if (Long.compareUnsigned(addresses[i], -layout.layerCacheBytes()) > 0) {
                throw new IllegalArgumentException("layer " + i + " cache at 0x" + Long.toHexString(addresses[i])
                        + " would run past the end of the address space (" + layout.layerCacheBytes() + " bytes)");
            }
            segs[i] = MemorySegment.ofAddress(addresses[i]).reinterpret(layout.layerCacheBytes());
        }
        return new PagedCaches(layout, segs);
    }

    /** Caches given as segments, each at least {@link KvLayout#layerCacheBytes()} long. */
    public static PagedCaches of(KvLayout layout, List<MemorySegment> caches) {
        if (caches.size() != layout.numLayers()) {
            throw new IllegalArgumentException("expected " + layout.numLayers() + " layer caches, got "
                    + caches.size());
        }
        MemorySegment[] segs = new MemorySegment[caches.size()];
        for (int i = 0; i < segs.length; i++) {
            MemorySegment s = caches.get(i);
            if (s.byteSize() < layout.layerCacheBytes()) {
                throw new IllegalArgumentException("layer " + i + " cache holds " + s.byteSize()
                        + " bytes, the layout needs " + layout.layerCacheBytes());
            }
            segs[i] = s.asSlice(0, layout.layerCacheBytes());
        }
        return new PagedCaches(layout, segs);
    }

    public KvLayout layout() {
        return layout;
    }

    public MemorySegment layer(int layer) {
        return layers[layer];
    }

    /** Byte offset of slot {@code slot}'s row in {@code plane} of any layer's cache. */
    public long offset(int plane, long slot) {
        long row = layout.rowBytes();
        return switch (layout.format()) {
            case FLASH_ATTN -> (plane * (long) layout.numSlots() + slot) * row;
            case BLOCKS_FIRST -> {
                long bs = layout.blockSize();
                yield ((slot / bs * 2 + plane) * bs + slot % bs) * row;
            }
            case MLA -> slot * row;
        };
    }

    /** Whether slot {@code s + 1}'s row always follows slot {@code s}'s, block boundaries included. */
    public boolean contiguousAcrossBlocks() {
        return layout.format() != KvFormat.BLOCKS_FIRST;
    }
}
