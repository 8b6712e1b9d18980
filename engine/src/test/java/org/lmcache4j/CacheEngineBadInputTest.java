package org.lmcache4j;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;

import java.util.Arrays;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Bad input: an exception naming the value, and the cache exactly as before. */
class CacheEngineBadInputTest {
    private final Random rnd = new Random(3);
    private EngineFixture f;
    private int[] cachedTokens;
    private long[] cachedSlots;
    private byte[] cachesBefore;
    private EngineStats statsBefore;

    @BeforeEach
    void storeOnePrompt() {
        f = new EngineFixture(EngineFixture.poolOfChunks(16));
        cachedTokens = TestCaches.randomTokens(600, rnd);
        cachedSlots = TestCaches.randomSlots(f.caches.layout, 600, rnd);
        f.engine.store(cachedTokens, cachedSlots, 0);
        cachesBefore = f.caches.rows(allSlots(), 0, f.caches.layout.numSlots());
        statsBefore = f.engine.stats();
    }

    @AfterEach
    void unchangedAndNoLeaks() {
        try {
            assertArrayEquals(cachesBefore, f.caches.rows(allSlots(), 0, f.caches.layout.numSlots()),
                    "paged caches changed");
            EngineStats s = f.engine.stats();
            assertEquals(statsBefore.chunks(), s.chunks());
            assertEquals(statsBefore.pagesInUse(), s.pagesInUse());
            assertEquals(statsBefore.storedTokens(), s.storedTokens());
            assertEquals(600, f.engine.lookup(cachedTokens));
        } finally {
            f.close();
        }
    }

    private long[] allSlots() {
        long[] all = new long[f.caches.layout.numSlots()];
        Arrays.setAll(all, i -> i);
        return all;
    }

    private static void assertRejected(Class<? extends Throwable> type, String mustMention, Executable call) {
        Throwable t = assertThrows(type, call);
        assertTrue(t.getMessage().contains(mustMention), () -> "'" + t.getMessage() + "' should mention " + mustMention);
    }

    @Test
    void lengthsDiffer() {
        int[] tokens = TestCaches.randomTokens(300, rnd);
        long[] slots = TestCaches.randomSlots(f.caches.layout, 299, rnd);
        assertRejected(IllegalArgumentException.class, "299", () -> f.engine.store(tokens, slots, 0));
        assertRejected(IllegalArgumentException.class, "299", () -> f.engine.retrieve(tokens, slots, 0));
    }

    @Test
    void slotOutOfRange() {
        int[] tokens = TestCaches.randomTokens(300, rnd);
        long[] slots = TestCaches.randomSlots(f.caches.layout, 300, rnd);
        slots[290] = f.caches.layout.numSlots();
        assertRejected(IllegalArgumentException.class, "slot_mapping[290] = 8192", () -> f.engine.store(tokens, slots, 0));
        slots[290] = -2;
        assertRejected(IllegalArgumentException.class, "-2", () -> f.engine.store(tokens, slots, 0));
        long[] retrieveSlots = cachedSlots.clone();
        retrieveSlots[599] = Long.MAX_VALUE;
        assertRejected(IllegalArgumentException.class, String.valueOf(Long.MAX_VALUE),
                () -> f.engine.retrieve(cachedTokens, retrieveSlots, 0));
    }

    @Test
    void skipLeadingNotAChunkMultiple() {
        assertRejected(IllegalArgumentException.class, "skip_leading 100",
                () -> f.engine.store(cachedTokens, cachedSlots, 100));
        assertRejected(IllegalArgumentException.class, "skip_leading 100",
                () -> f.engine.retrieve(cachedTokens, cachedSlots, 100));
        assertRejected(IllegalArgumentException.class, "skip_leading -256",
                () -> f.engine.retrieve(cachedTokens, cachedSlots, -256));
        assertRejected(IllegalArgumentException.class, "skip_leading 768",
                () -> f.engine.retrieve(cachedTokens, cachedSlots, 768));
    }

    @Test
    void nullArguments() {
        assertRejected(IllegalArgumentException.class, "tokens", () -> f.engine.lookup(null));
        assertRejected(IllegalArgumentException.class, "slot_mapping", () -> f.engine.store(cachedTokens, null, 0));
        assertRejected(IllegalArgumentException.class, "request id",
                () -> f.engine.lookupAndPin("", KeyScope.NONE, cachedTokens));
    }

    @Test
    void wrongNumberOfLayerCaches() {
        assertRejected(IllegalArgumentException.class, "expected 2 layer caches, got 1",
                () -> f.engine.registerKvCaches(new long[]{f.caches.addresses()[0]}));
        assertRejected(IllegalArgumentException.class, "null",
                () -> f.engine.registerKvCaches(new long[]{0, 0}));
    }

    @Test
    void callsBeforeRegistration() {
        try (CacheEngine unregistered = CacheEngine.builder().layout(EngineFixture.LAYOUT)
                .config(EngineFixture.poolOfChunks(2)).open()) {
            assertRejected(IllegalStateException.class, "registerKvCaches",
                    () -> unregistered.store(cachedTokens, cachedSlots, 0));
            assertRejected(IllegalStateException.class, "registerKvCaches",
                    () -> unregistered.retrieve(cachedTokens, cachedSlots, 0));
            assertEquals(0, unregistered.lookup(cachedTokens));
        }
    }

    @Test
    void callsAfterClose() {
        CacheEngine closed = CacheEngine.builder().layout(EngineFixture.LAYOUT).config(EngineFixture.poolOfChunks(2)).open();
        closed.close();
        closed.close();
        assertRejected(IllegalStateException.class, "closed", () -> closed.lookup(cachedTokens));
        assertRejected(IllegalStateException.class, "closed", () -> closed.countPrompt(10, 2));
        assertRejected(IllegalStateException.class, "closed", () -> closed.recordKvEvents(true));
        assertRejected(IllegalStateException.class, "closed", () -> closed.takeKvEvents(1_000, e -> 1));
    }

    @Test
    void badLayoutAndConfigValues() {
        assertRejected(IllegalArgumentException.class, "head_size", () ->
                new KvLayout(2, 2, 0, KvDtype.BFLOAT16, 16, 4, KvFormat.FLASH_ATTN));
        assertRejected(IllegalArgumentException.class, "int4", () -> KvDtype.parse("int4"));
        assertRejected(IllegalArgumentException.class, "paged_v9", () -> KvFormat.parse("paged_v9"));
        assertRejected(IllegalArgumentException.class, "num_kv_heads", () ->
                new KvLayout(2, 2, 576, KvDtype.BFLOAT16, 16, 4, KvFormat.MLA));
        assertRejected(IllegalArgumentException.class, "max_local_cpu_size", () ->
                EngineConfig.builder().maxLocalCpuSizeGb(-1).build());
        assertRejected(IllegalArgumentException.class, "chunk_size", () ->
                EngineConfig.builder().chunkSize(0).build());
    }
}
