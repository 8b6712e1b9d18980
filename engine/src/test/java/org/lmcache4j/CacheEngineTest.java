package org.lmcache4j;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.util.Arrays;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

class CacheEngineTest {
    private final Random rnd = new Random(1);
    private EngineFixture f;

    @AfterEach
    void noLeaks() {
        if (f != null) {
            f.close();
        }
    }

    private EngineFixture fixture(EngineConfig config) {
        f = new EngineFixture(config);
        return f;
    }

    @Test
    void storeThenRetrieve_toOtherSlots_byteExact() {
        fixture(EngineFixture.poolOfChunks(64));
        int[] tokens = TestCaches.randomTokens(1000, rnd);
        long[] storeSlots = TestCaches.randomSlots(f.caches.layout, 1000, rnd);
        assertEquals(1000, f.engine.store(tokens, storeSlots, 0));
        byte[] stored = f.caches.rows(storeSlots, 0, 1000);

        f.caches.fillRandom(99);
        long[] loadSlots = TestCaches.randomSlots(f.caches.layout, 1000, rnd);
        assertEquals(1000, f.engine.lookup(tokens));
        assertEquals(1000, f.engine.retrieve(tokens, loadSlots, 0));
        assertArrayEquals(stored, f.caches.rows(loadSlots, 0, 1000));
    }

    @Test
    void retrieve_longerPrompt_loadsWholeChunksOfTheStoredPrefix() {
        fixture(EngineFixture.poolOfChunks(64));
        int[] prompt = TestCaches.randomTokens(2100, rnd);
        long[] slots = TestCaches.randomSlots(f.caches.layout, 2100, rnd);
        f.engine.store(Arrays.copyOf(prompt, 2000), Arrays.copyOf(slots, 2000), 0);
        byte[] stored = f.caches.rows(slots, 0, 1792);

        f.caches.zero();
        assertEquals(1792, f.engine.lookup(prompt));
        assertEquals(1792, f.engine.retrieve(prompt, slots, 0));
        assertArrayEquals(stored, f.caches.rows(slots, 0, 1792));
        assertArrayEquals(new byte[f.caches.rows(slots, 1792, 2100).length], f.caches.rows(slots, 1792, 2100),
                "nothing beyond the hit is written");
    }

    @Test
    void store_samePromptTwice_skipsWhatIsCached() {
        fixture(EngineFixture.poolOfChunks(64));
        int[] tokens = TestCaches.randomTokens(600, rnd);
        long[] slots = TestCaches.randomSlots(f.caches.layout, 600, rnd);
        assertEquals(600, f.engine.store(tokens, slots, 0));
        assertEquals(0, f.engine.store(tokens, slots, 0));
        int[] longer = Arrays.copyOf(tokens, 900);
        System.arraycopy(TestCaches.randomTokens(300, rnd), 0, longer, 600, 300);
        long[] longerSlots = TestCaches.randomSlots(f.caches.layout, 900, rnd);
        // Chunks 0 and 1 are cached; the partial chunk 2 (512..600) is not the full chunk 512..768.
        assertEquals(900 - 512, f.engine.store(longer, longerSlots, 0));
        assertEquals(900, f.engine.lookup(longer));
    }

    @Test
    void store_skipLeading_readsNothingOfTheSkippedChunks() {
        fixture(EngineFixture.poolOfChunks(64));
        int[] tokens = TestCaches.randomTokens(768, rnd);
        long[] slots = TestCaches.randomSlots(f.caches.layout, 768, rnd);
        Arrays.fill(slots, 0, 256, -1); // the skipped chunk is not even in the caches
        assertEquals(512, f.engine.store(tokens, slots, 256));
        assertEquals(0, f.engine.lookup(tokens), "chunk 0 was never stored, so nothing is a prefix hit");
        byte[] rows = f.caches.rows(slots, 256, 768);
        f.caches.zero();
        assertEquals(512, f.engine.retrieve(tokens, slots, 256), "retrieve with the same skip loads the rest");
        assertArrayEquals(rows, f.caches.rows(slots, 256, 768));
    }

    @Test
    void retrieve_skipLeading_loadsOnlyBeyondIt() {
        fixture(EngineFixture.poolOfChunks(64));
        int[] tokens = TestCaches.randomTokens(768, rnd);
        long[] slots = TestCaches.randomSlots(f.caches.layout, 768, rnd);
        f.engine.store(tokens, slots, 0);
        byte[] first = f.caches.rows(slots, 0, 256);
        f.caches.fillRandom(5);
        byte[] firstNow = f.caches.rows(slots, 0, 256);
        assertEquals(512, f.engine.retrieve(tokens, slots, 256));
        assertArrayEquals(firstNow, f.caches.rows(slots, 0, 256), "skipped rows untouched");
        assertFalse(Arrays.equals(first, firstNow));
    }

    @Test
    void saveUnfullChunkOff_storesWholeChunksOnly() {
        fixture(EngineFixture.poolOfChunks(64).toBuilder().saveUnfullChunk(false).build());
        int[] tokens = TestCaches.randomTokens(300, rnd);
        long[] slots = TestCaches.randomSlots(f.caches.layout, 300, rnd);
        assertEquals(256, f.engine.store(tokens, slots, 0));
        assertEquals(256, f.engine.lookup(tokens));
        assertEquals(0, f.engine.store(Arrays.copyOf(tokens, 100), Arrays.copyOf(slots, 100), 0));
    }

    @Test
    void store_chunkWithMinusOneSlot_storesOnlyTheChunksBeforeIt() {
        fixture(EngineFixture.poolOfChunks(64));
        int[] tokens = TestCaches.randomTokens(768, rnd);
        long[] slots = TestCaches.randomSlots(f.caches.layout, 768, rnd);
        slots[300] = -1;
        assertEquals(256, f.engine.store(tokens, slots, 0));
        assertEquals(256, f.engine.lookup(tokens));
    }

    @Test
    void smallPool_evictsLeastRecentlyUsed_suffixFirst() {
        fixture(EngineFixture.poolOfChunks(4));
        int[] a = TestCaches.randomTokens(768, rnd);
        int[] b = TestCaches.randomTokens(512, rnd);
        long[] slots = TestCaches.randomSlots(f.caches.layout, 768, rnd);
        assertEquals(768, f.engine.store(a, slots, 0));
        assertEquals(512, f.engine.store(b, Arrays.copyOf(slots, 512), 0));
        // 5 chunks into 4 pages: a's last chunk (its least recently used) went first.
        assertEquals(1, f.engine.stats().evictions());
        assertEquals(512, f.engine.lookup(a));
        assertEquals(512, f.engine.lookup(b));
        assertEquals(4, f.engine.stats().pagesInUse());
    }

    @Test
    void lookup_touchesPrefix_soTheOtherPromptIsEvicted() {
        fixture(EngineFixture.poolOfChunks(4));
        int[] a = TestCaches.randomTokens(512, rnd);
        int[] b = TestCaches.randomTokens(512, rnd);
        int[] c = TestCaches.randomTokens(512, rnd);
        long[] slots = TestCaches.randomSlots(f.caches.layout, 512, rnd);
        f.engine.store(a, slots, 0);
        f.engine.store(b, slots, 0);
        assertEquals(512, f.engine.lookup(a)); // a is now more recent than b
        f.engine.store(c, slots, 0);
        assertEquals(512, f.engine.lookup(a));
        assertEquals(0, f.engine.lookup(b));
        assertEquals(512, f.engine.lookup(c));
    }

    @Test
    void pinnedChunks_areNotEvicted_andStoreSkipsWhenNothingCanGo() {
        fixture(EngineFixture.poolOfChunks(2));
        int[] a = TestCaches.randomTokens(512, rnd);
        int[] b = TestCaches.randomTokens(512, rnd);
        long[] slots = TestCaches.randomSlots(f.caches.layout, 512, rnd);
        f.engine.store(a, slots, 0);
        assertEquals(512, f.engine.lookupAndPin("req-a", KeyScope.NONE, a));
        assertEquals(2, f.engine.stats().pins());
        assertEquals(0, f.engine.store(b, slots, 0));
        assertEquals(2, f.engine.stats().storeSkippedChunks());
        assertEquals(512, f.engine.lookup(a));
        assertEquals(2, f.engine.unpin("req-a"));
        assertEquals(512, f.engine.store(b, slots, 0));
        assertEquals(0, f.engine.lookup(a));
    }

    @Test
    @org.lmcache4j.ProvokesFaults("pins that outlive pin_timeout_sec")
    void pins_expireAfterPinTimeout() {
        fixture(EngineFixture.poolOfChunks(8).toBuilder().pinTimeoutSec(30).build());
        int[] a = TestCaches.randomTokens(512, rnd);
        long[] slots = TestCaches.randomSlots(f.caches.layout, 512, rnd);
        f.engine.store(a, slots, 0);
        f.engine.lookupAndPin("r", KeyScope.NONE, a);
        f.advanceSeconds(29);
        assertEquals(2, f.engine.stats().pins());
        f.advanceSeconds(2);
        f.engine.lookup(new int[]{1});
        assertEquals(0, f.engine.stats().pins());
        assertEquals(2, f.engine.stats().forcedUnpins());
        assertEquals(0, f.engine.unpin("r"));
    }

    @Test
    void lookupAndPin_again_replacesEarlierPins() {
        fixture(EngineFixture.poolOfChunks(8));
        int[] a = TestCaches.randomTokens(512, rnd);
        f.engine.store(a, TestCaches.randomSlots(f.caches.layout, 512, rnd), 0);
        for (int i = 0; i < 5; i++) {
            f.engine.lookupAndPin("same-request", KeyScope.NONE, a);
        }
        assertEquals(2, f.engine.stats().pins());
        assertEquals(2, f.engine.stats().leases());
        f.engine.unpin("same-request");
    }

    @Test
    void scopes_doNotSeeEachOthersChunks() {
        fixture(EngineFixture.poolOfChunks(8));
        int[] a = TestCaches.randomTokens(512, rnd);
        long[] slots = TestCaches.randomSlots(f.caches.layout, 512, rnd);
        f.engine.store(KeyScope.ofSalt("tenant-1"), a, slots, 0);
        assertEquals(512, f.engine.lookup(KeyScope.ofSalt("tenant-1"), a));
        assertEquals(0, f.engine.lookup(KeyScope.ofSalt("tenant-2"), a));
        assertEquals(0, f.engine.lookup(a));
        assertEquals(0, f.engine.retrieve(KeyScope.ofSalt("tenant-2"), a, slots, 0));
    }

    @Test
    void minRetrieveTokens_shortHitIsNotLoaded() {
        fixture(EngineFixture.poolOfChunks(8).toBuilder().minRetrieveTokens(512).build());
        int[] a = TestCaches.randomTokens(300, rnd);
        long[] slots = TestCaches.randomSlots(f.caches.layout, 300, rnd);
        f.engine.store(a, slots, 0);
        assertEquals(300, f.engine.lookup(a));
        assertEquals(0, f.engine.retrieve(a, slots, 0));
    }

    @Test
    void stats_countRequestsAndTokens() {
        fixture(EngineFixture.poolOfChunks(8));
        int[] a = TestCaches.randomTokens(600, rnd);
        long[] slots = TestCaches.randomSlots(f.caches.layout, 600, rnd);
        f.engine.store(a, slots, 0);
        f.engine.lookup(a);
        f.engine.retrieve(a, slots, 256);
        EngineStats s = f.engine.stats();
        assertEquals(1, s.storeRequests());
        assertEquals(600, s.storedTokens());
        assertEquals(1, s.lookupRequests());
        assertEquals(600, s.lookupHitTokens());
        assertEquals(1, s.retrieveRequests());
        assertEquals(344, s.requestedTokens());
        assertEquals(344, s.retrievedTokens());
        assertEquals(1.0, s.retrieveHitRate());
        assertEquals(3, s.chunks());
        assertTrue(s.mappedBytes() > 0);
    }

    @Test
    void clear_dropsEverything() {
        fixture(EngineFixture.poolOfChunks(8));
        int[] a = TestCaches.randomTokens(512, rnd);
        f.engine.store(a, TestCaches.randomSlots(f.caches.layout, 512, rnd), 0);
        f.engine.lookupAndPin("r", KeyScope.NONE, a);
        f.engine.clear();
        assertEquals(0, f.engine.lookup(a));
        assertEquals(0, f.engine.stats().pins());
        assertEquals(0, f.engine.stats().pagesInUse());
    }
}
