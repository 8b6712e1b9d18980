package org.lmcache4j;

import java.util.Locale;

/**
 * How the serving engine lays out one layer's paged KV cache. The shapes, outermost first:
 *
 * <pre>
 * FLASH_ATTN    [2, num_blocks, block_size, num_kv_heads, head_size]   K plane, then V plane
 * BLOCKS_FIRST  [num_blocks, 2, block_size, num_kv_heads, head_size]   K and V side by side per block
 * MLA           [num_blocks, block_size, head_size]                    one latent vector per token
 * </pre>
 *
 * In every format the tokens of one block are contiguous rows of {@code num_kv_heads * head_size}
 * elements, which is what lets transfers copy whole runs instead of elements.
 */
public enum KvFormat {
    FLASH_ATTN("flash_attn", 2),
    BLOCKS_FIRST("blocks_first", 2),
    MLA("mla", 1);

    private final String configName;
    private final int planes;

    KvFormat(String configName, int planes) {
        this.configName = configName;
        this.planes = planes;
    }

    /** The lower-case name used in configuration, the C ABI and Python. */
    public String configName() {
        return configName;
    }

    /** Number of KV planes: 2 (K and V) or 1 (MLA's latent cache). */
    public int planes() {
        return planes;
    }

    public static KvFormat parse(String name) {
        String n = name == null ? "" : name.trim().toLowerCase(Locale.ROOT);
        for (KvFormat f : values()) {
            if (f.configName.equals(n) || f.name().toLowerCase(Locale.ROOT).equals(n)) {
                return f;
            }
        }
        throw new IllegalArgumentException("unsupported KV cache format '" + name
                + "' (supported: flash_attn, blocks_first, mla)");
    }
}
