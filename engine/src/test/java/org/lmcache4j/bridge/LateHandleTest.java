package org.lmcache4j.bridge;

import org.junit.jupiter.api.Test;
import org.lmcache4j.CacheEngine;
import org.lmcache4j.CudaStream;
import org.lmcache4j.EngineConfig;
import org.lmcache4j.KeyScope;
import org.lmcache4j.KvDtype;
import org.lmcache4j.KvFormat;
import org.lmcache4j.KvLayout;
import org.lmcache4j.LayeredOperation;
import org.lmcache4j.Prefetch;
import org.lmcache4j.TestCaches;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A prefetch or layered operation whose handle is issued after its engine's close began (another
 * thread closed the engine between the call's start and its handle): the close has already
 * forgotten its engine's handles, so a late one would stay in the table for good, holding the
 * closed engine. It is refused as closed, and nothing is kept.
 */
class LateHandleTest {
    private static final KvLayout LAYOUT = new KvLayout(2, 2, 8, KvDtype.BFLOAT16, 16, 64, KvFormat.FLASH_ATTN);

    @Test
    void handlesIssuedForAnEngineNoLongerOpen_areRefused_andKeepNothing() {
        try (TestCaches caches = new TestCaches(LAYOUT);
             CacheEngine engine = CacheEngine.builder().config(EngineConfig.builder().maxLocalCpuSizeGb(0.01).build())
                     .layout(LAYOUT).open()) {
            engine.registerKvCaches(caches.addresses());
            int[] tokens = new int[64];
            long[] slots = new long[64];
            for (int i = 0; i < 64; i++) {
                slots[i] = i;
            }

            PrefetchHandles prefetches = new PrefetchHandles();
            Prefetch p = engine.prefetch(KeyScope.NONE, tokens);
            var e = assertThrows(NativeStatus.EngineClosedException.class, () -> prefetches.add(7, p, h -> false));
            assertTrue(e.getMessage().contains("engine 7 closed"), e.getMessage());
            assertEquals(0, prefetches.size(), "a late prefetch handle stayed");
            long kept = prefetches.add(8, engine.prefetch(KeyScope.NONE, tokens), h -> true);
            prefetches.close(8, kept);

            LayeredHandles layered = new LayeredHandles();
            LayeredOperation op = engine.storeLayers(KeyScope.NONE, tokens, slots, 0, CudaStream.DEFAULT);
            assertThrows(NativeStatus.EngineClosedException.class, () -> layered.add(7, op, h -> false));
            assertTrue(op.ended(), "the late operation was not given up");
            assertEquals(0, engine.stats().leases(), "the late operation kept its pages");
            assertEquals(0, layered.size(), "a late layered handle stayed");
        }
    }
}
