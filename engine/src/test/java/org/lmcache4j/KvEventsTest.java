package org.lmcache4j;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.lmcache4j.keys.ChunkKey;

import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** What the CPU tier gains and loses, as a KV-aware router hears it. */
class KvEventsTest {
    private final Random rnd = new Random(3);
    private EngineFixture f;

    @AfterEach
    void close() {
        if (f != null) {
            f.close();
        }
    }

    private List<KvEvent> takeAll() {
        return f.engine.takeKvEvents(Long.MAX_VALUE, e -> 1);
    }

    private static List<KvEvent.Kind> kinds(List<KvEvent> events) {
        return events.stream().map(KvEvent::kind).toList();
    }

    @Test
    void nothingIsRecordedUntilAsked_thenStoresAndEvictionsInOrder() {
        f = new EngineFixture(EngineFixture.poolOfChunks(4));
        int[] a = TestCaches.randomTokens(768, rnd);
        int[] b = TestCaches.randomTokens(512, rnd);
        long[] slots = TestCaches.randomSlots(f.caches.layout, 768, rnd);
        f.engine.store(Arrays.copyOf(a, 256), Arrays.copyOf(slots, 256), 0);
        assertEquals(List.of(), takeAll(), "off by default");

        f.engine.recordKvEvents(true);
        assertEquals(512, f.engine.store(a, slots, 256));
        List<KvEvent> stored = takeAll();
        assertEquals(List.of(KvEvent.Kind.STORED, KvEvent.Kind.STORED), kinds(stored));
        assertNotNullParent(stored.get(0));
        assertEquals(stored.get(0).key(), stored.get(1).parent(), "chained: each chunk names the one before");
        assertArrayEquals(Arrays.copyOfRange(a, 512, 768), stored.get(1).tokens());

        assertEquals(512, f.engine.store(b, Arrays.copyOf(slots, 512), 0));
        List<KvEvent> next = takeAll();
        // 5 chunks into 4 pages: a's last chunk is evicted (as b's pages are planned) before b is published.
        assertEquals(List.of(KvEvent.Kind.REMOVED, KvEvent.Kind.STORED, KvEvent.Kind.STORED), kinds(next));
        assertEquals(stored.get(1).key(), next.get(0).key());
        assertEquals(0, next.get(0).tokens().length);
        assertNull(next.get(1).parent(), "a prompt's first chunk has no parent");

        f.engine.clear();
        assertEquals(List.of(KvEvent.Kind.CLEARED), kinds(takeAll()));
        f.engine.recordKvEvents(false);
        f.engine.store(b, Arrays.copyOf(slots, 512), 0);
        assertEquals(List.of(), takeAll());
    }

    @Test
    void chunksPromotedFromDiskAreStoredAgain(@TempDir Path dir) {
        f = new EngineFixture(DiskTierEngineTest.config(dir, 16, 64, Map.of("disk_write_through", true)));
        int[] tokens = TestCaches.randomTokens(700, rnd);
        long[] slots = TestCaches.randomSlots(f.caches.layout, 700, rnd);
        f.engine.store(tokens, slots, 0);
        DiskTierEngineTest.await("three records", () -> f.engine.stats().disk().records() == 3);
        f.engine.clear();
        f.engine.recordKvEvents(true);
        assertEquals(700, f.engine.retrieve(tokens, slots, 0));
        List<KvEvent> promoted = takeAll();
        assertEquals(List.of(KvEvent.Kind.STORED, KvEvent.Kind.STORED, KvEvent.Kind.STORED), kinds(promoted));
        assertArrayEquals(Arrays.copyOfRange(tokens, 512, 700), promoted.get(2).tokens());
    }

    @Test
    void takeFitsTheBudget_andRefusesAnEventLargerThanIt() {
        f = new EngineFixture(EngineFixture.poolOfChunks(16));
        f.engine.recordKvEvents(true);
        int[] a = TestCaches.randomTokens(768, rnd);
        f.engine.store(a, TestCaches.randomSlots(f.caches.layout, 768, rnd), 0);
        assertThrows(IllegalArgumentException.class, () -> f.engine.takeKvEvents(100, e -> e.tokens().length));
        assertEquals(2, f.engine.takeKvEvents(600, e -> e.tokens().length).size(), "two chunks of 256 fit 600");
        assertEquals(1, takeAll().size(), "the third was left for the next take");
    }

    @Test
    void aFullQueueDropsAndCounts_andReportsTheGapWhereItWas() {
        KvEventQueue q = new KvEventQueue(4);
        q.record(true);
        ChunkEntry[] entries = new ChunkEntry[7];
        for (int i = 0; i < entries.length; i++) {
            entries[i] = new ChunkEntry(new ChunkKey(i, i), new ChunkKey(0, 0), i, new int[] {i}, 0, 1);
            q.stored(entries[i]);
        }
        assertEquals(3, q.lostTotal());
        List<KvEvent> first = q.take(2, e -> 1);
        assertEquals(List.of(KvEvent.Kind.STORED, KvEvent.Kind.STORED), kinds(first));
        q.removed(entries[0]);                       // room again: the gap is queued before it
        List<KvEvent> rest = q.take(Long.MAX_VALUE, e -> 1);
        assertEquals(List.of(KvEvent.Kind.STORED, KvEvent.Kind.STORED, KvEvent.Kind.LOST, KvEvent.Kind.REMOVED),
                kinds(rest));
        assertEquals(3, rest.get(2).lost());
        for (int i = 0; i < 6; i++) {
            q.removed(entries[i]);
        }
        List<KvEvent> last = q.take(Long.MAX_VALUE, e -> 1);
        assertEquals(KvEvent.Kind.LOST, last.get(last.size() - 1).kind(), "a gap at the end ends the take");
        assertEquals(2, last.get(last.size() - 1).lost());
        assertTrue(q.take(Long.MAX_VALUE, e -> 1).isEmpty());
        assertEquals(5, q.lostTotal());
    }

    private static void assertNotNullParent(KvEvent e) {
        assertTrue(e.parent() != null, "a chunk after the first names its parent");
    }
}
