package org.lmcache4j;

import java.util.concurrent.atomic.AtomicLong;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** An engine over small host caches, and the end-of-test check that nothing leaked. */
final class EngineFixture implements AutoCloseable {
    /** 2 layers, 2 heads of 8, bf16, 16-token blocks: a 256-token chunk is 32 KiB. */
    static final KvLayout LAYOUT = new KvLayout(2, 2, 8, KvDtype.BFLOAT16, 16, 512, KvFormat.FLASH_ATTN);

    final AtomicLong now = new AtomicLong(1_000_000_000L);
    final TestCaches caches;
    final CacheEngine engine;

    EngineFixture(EngineConfig config) {
        this(config, LAYOUT);
    }

    EngineFixture(EngineConfig config, KvLayout layout) {
        caches = new TestCaches(layout);
        caches.fillRandom(42);
        engine = CacheEngine.builder().config(config).layout(layout).model("test-model")
                .ticker(now::get).slabTargetBytes(256 * 1024).open();
        engine.registerKvCaches(caches.addresses());
    }

    /** A config with a pool of {@code chunks} 256-token chunks of {@link #LAYOUT}. */
    static EngineConfig poolOfChunks(int chunks) {
        return EngineConfig.builder().maxLocalCpuSizeGb(chunks * LAYOUT.chunkBytes(256) / (double) EngineConfig.GB)
                .build();
    }

    void advanceSeconds(long s) {
        now.addAndGet(s * 1_000_000_000L);
    }

    /** Asserts that no lease, pin or page is left once the cache is cleared. */
    void assertNothingLeaked() {
        engine.awaitTransfers();
        // A background write (spill, write-through) counts its record a moment before it closes its
        // lease: give those a moment. A leaked lease stays open, and fails below all the same.
        long deadline = System.nanoTime() + 5_000_000_000L;
        while (engine.stats().leases() > 0 && System.nanoTime() < deadline) {
            Thread.onSpinWait();
        }
        EngineStats s = engine.stats();
        assertEquals(0, s.leases(), "leases left open");
        assertEquals(0, s.pins(), "pins left");
        engine.clear();
        EngineStats after = engine.stats();
        assertEquals(0, after.pagesInUse(), "pages in use after clear");
        assertEquals(0, after.chunks());
        assertEquals(0, after.leases());
    }

    @Override
    public void close() {
        try {
            assertNothingLeaked();
        } finally {
            engine.close();
            caches.close();
        }
    }
}
