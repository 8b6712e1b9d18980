package org.lmcache4j.bench;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.lmcache4j.EngineStats;
import org.lmcache4j.transfer.ChunkFormat;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * Runs every benchmark's set-up and body once at a tiny size, untimed, so that a broken
 * benchmark fails the build: the copies must move the right bytes and the engine must leak nothing.
 */
class BenchmarkBodiesTest {
    private final ScatteredCaches caches = new ScatteredCaches();
    private final PageRing ring = new PageRing();
    private final FilledEngine engine = new FilledEngine();
    private final TransferBenchmark bench = new TransferBenchmark();
    private final Arena arena = Arena.ofConfined();

    @BeforeEach
    void setUp() {
        caches.shape = "tiny";
        caches.numBlocks = 64;
        caches.mappings = 2;
        caches.map();
        Random rnd = new Random(1);
        for (MemorySegment layer : caches.layers()) {
            for (long off = 0; off < layer.byteSize(); off += Long.BYTES) {
                layer.set(ValueLayout.JAVA_LONG, off, rnd.nextLong());
            }
        }
        ring.map(caches);
        engine.open(caches); // stores every mapping's chunk, so it must come after the caches are filled
    }

    @AfterEach
    void tearDown() {
        engine.close();
        ring.unmap();
        caches.unmap();
        arena.close();
    }

    @Test
    void bareLoops_moveEachRowToItsPlaceInTheChunkFormat() {
        assertPageHoldsRowsOf(0, bench.bareGatherLoop(caches, ring));
        assertPageHoldsRowsOf(1, bench.bareScatterLoop(caches, ring));
    }

    @Test
    void hostTransferBodies_moveTheSameRowsAsTheBareLoops() {
        ring.page(0).fill((byte) 0);
        assertPageHoldsRowsOf(0, bench.hostTransferGather(caches, ring));
        assertPageHoldsRowsOf(1, bench.hostTransferScatter(caches, ring));
    }

    @Test
    void contiguousColdCopy_copiesOneWholeSlice() {
        MemorySegment page = bench.contiguousColdCopy(caches, ring);
        assertEquals(-1, page.mismatch(caches.layers().getFirst().asSlice(0, caches.chunkBytes())));
    }

    @Test
    void engineRetrieve_restoresWhatWasStored_andLeaksNothing() {
        MemorySegment before = gatherOf(0);
        caches.layers().forEach(layer -> layer.fill((byte) 0));
        assertEquals(ScatteredCaches.CHUNK_TOKENS, bench.engineRetrieve(engine, caches));
        assertEquals(-1, gatherOf(0).mismatch(before));
        assertNothingHeld(engine.engine.stats());
    }

    @Test
    void engineStore_evictsTheOldestChunk_andLeaksNothing() {
        assertEquals(ScatteredCaches.CHUNK_TOKENS, bench.engineStore(engine, caches));
        EngineStats stats = engine.engine.stats();
        assertEquals(1, stats.evictions());
        assertEquals(caches.mappings, stats.chunks());
        assertNothingHeld(stats);
    }

    @Test
    void keyHashBodies_keyEveryChunk() throws Exception {
        KeyHashBenchmark keys = new KeyHashBenchmark();
        keys.tokens = 4 * ScatteredCaches.CHUNK_TOKENS;
        keys.setUp();
        assertEquals(4, keys.chunkKeys().length);
        assertEquals(32, keys.sha256OneCall().length);
    }

    @Test
    void poolBodies_returnEveryPageAndLease() {
        PoolBenchmark pool = new PoolBenchmark();
        pool.pages = 2;
        pool.open();
        pool.allocateRelease();
        pool.allocateRelease2Threads();
        pool.leaseClose();
        pool.leaseClose2Threads();
        assertEquals(0, pool.pool.stats().leases());
        assertEquals(1, pool.pool.stats().pagesInUse());
        pool.close();
    }

    private MemorySegment gatherOf(int m) {
        MemorySegment page = arena.allocate(caches.chunkBytes());
        caches.gather(m, page);
        return page;
    }

    /** Checks every row against {@link ChunkFormat} and the slot mapping, independently of the loops. */
    private void assertPageHoldsRowsOf(int m, MemorySegment page) {
        ChunkFormat chunk = new ChunkFormat(caches.layout);
        long row = chunk.rowBytes();
        for (int l = 0; l < chunk.layers(); l++) {
            for (int p = 0; p < chunk.planes(); p++) {
                for (int t = 0; t < ScatteredCaches.CHUNK_TOKENS; t++) {
                    MemorySegment cacheRow = caches.layers().get(l).asSlice(caches.view.offset(p, caches.slots[m][t]), row);
                    MemorySegment pageRow = page.asSlice(chunk.offset(p, l, t, ScatteredCaches.CHUNK_TOKENS), row);
                    assertEquals(-1, pageRow.mismatch(cacheRow), "layer " + l + " plane " + p + " token " + t);
                }
            }
        }
    }

    private static void assertNothingHeld(EngineStats stats) {
        assertEquals(0, stats.leases());
        assertEquals(0, stats.pins());
        assertEquals(0, stats.storeSkippedChunks());
    }
}
