package org.lmcache4j.transfer;

import org.junit.jupiter.api.Test;
import org.lmcache4j.KvDtype;
import org.lmcache4j.KvFormat;
import org.lmcache4j.KvLayout;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class PagedCachesTest {
    private static final KvLayout LAYOUT = new KvLayout(2, 2, 16, KvDtype.BFLOAT16, 16, 64, KvFormat.FLASH_ATTN);

    @Test
    void addressRangeThatWrapsPastTheAddressSpace_refused() {
        // From C or Python a raw address is a uint64: one this close to 2^64 would wrap, and a copy
        // would write at the bottom of the address space.
        long last = -LAYOUT.layerCacheBytes() + 4096; // 2^64 - bytes + 4096
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> PagedCaches.ofAddresses(LAYOUT, new long[] {4096, last}));
        assertTrue(e.getMessage().contains("layer 1 cache at 0x" + Long.toHexString(last)
                + " would run past the end of the address space"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> PagedCaches.ofAddresses(LAYOUT, new long[] {4096, 0}));
        PagedCaches.ofAddresses(LAYOUT, new long[] {4096, -LAYOUT.layerCacheBytes()}); // ends exactly at 2^64: fine
    }
}
