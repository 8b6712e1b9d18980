package org.lmcache4j.memory;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.api.Test;

import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The pool's contract, run over every {@link SlabSource}. */
class ChunkPoolTest {
    private static final long MIB = 1 << 20;

    static Stream<SlabSource> sources() {
        return Stream.of(SlabSource.best(), new ArenaSlabSource());
    }

    @Test
    void best_onLinux_isMmap() {
        assertEquals("mmap+THP", SlabSource.best().describe());
    }

    @ParameterizedTest
    @MethodSource("sources")
    void construct_twentyGigabytes_mapsNothing(SlabSource source) {
        try (ChunkPool pool = new ChunkPool(20L << 30, 32 * MIB, 1L << 30, source, SlabRegistrar.NONE)) {
            PoolStats s = pool.stats();
            assertEquals(640, s.capacityPages());
            assertEquals(0, s.mappedBytes());
            assertEquals(0, s.pagesInUse());
        }
    }

    @ParameterizedTest
    @MethodSource("sources")
    void allocate_growsSlabBySlab_andStopsAtCapacity(SlabSource source) {
        try (ChunkPool pool = new ChunkPool(10 * MIB, MIB, 4 * MIB, source, SlabRegistrar.NONE)) {
            Set<Integer> pages = new HashSet<>();
            for (int i = 0; i < 10; i++) {
                int p = pool.tryAllocate();
                assertTrue(p >= 0, "page " + i);
                assertTrue(pages.add(p), "page handed out twice");
                pool.page(p).fill((byte) i);
            }
            assertEquals(-1, pool.tryAllocate());
            PoolStats s = pool.stats();
            assertEquals(10, s.pagesInUse());
            assertEquals(10 * MIB, s.mappedBytes(), "slabs of four, four and two pages");
            for (int p : pages) {
                pool.release(p);
            }
            assertEquals(0, pool.stats().pagesInUse());
        }
    }

    @ParameterizedTest
    @MethodSource("sources")
    void pages_doNotOverlap(SlabSource source) {
        try (ChunkPool pool = new ChunkPool(8 * MIB, 3 * 1000, 64 * 1024, source, SlabRegistrar.NONE)) {
            List<Integer> pages = new ArrayList<>();
            for (int p; (p = pool.tryAllocate()) >= 0; ) {
                pages.add(p);
                pool.page(p).fill((byte) p);
            }
            assertEquals(pool.capacityPages(), pages.size());
            for (int p : pages) {
                assertEquals(0, pool.page(p).address() % 4096, "pages are 4 KiB aligned");
                assertEquals((byte) p, pool.page(p).get(ValueLayout.JAVA_BYTE, pool.pageBytes() - 1));
                pool.release(p);
            }
        }
    }

    @Test
    void lease_keepsPageUntilLastRelease() {
        try (ChunkPool pool = new ChunkPool(2 * MIB, MIB, MIB, SlabSource.best(), SlabRegistrar.NONE)) {
            int p = pool.tryAllocate();
            PageLease lease = pool.lease(p);
            assertEquals(2, pool.refCount(p));
            assertEquals(1, pool.stats().leases());
            pool.release(p);
            assertEquals(1, pool.stats().pagesInUse(), "still leased");
            lease.close();
            assertEquals(0, pool.stats().pagesInUse());
            assertEquals(0, pool.stats().leases());
            assertThrows(IllegalStateException.class, lease::close, "double release");
        }
    }

    @Test
    void lease_onFreePage_throws() {
        try (ChunkPool pool = new ChunkPool(2 * MIB, MIB, MIB, SlabSource.best(), SlabRegistrar.NONE)) {
            int p = pool.tryAllocate();
            pool.release(p);
            assertThrows(IllegalStateException.class, () -> pool.lease(p));
            assertThrows(IllegalStateException.class, () -> pool.release(p));
            assertEquals(0, pool.stats().pagesInUse());
        }
    }

    @Test
    void prepareGrowth_faultsFirstSlabInBackground() throws InterruptedException {
        try (ChunkPool pool = new ChunkPool(64 * MIB, 2 * MIB, 16 * MIB, SlabSource.best(), SlabRegistrar.NONE)) {
            pool.prepareGrowth();
            long deadline = System.nanoTime() + 10_000_000_000L;
            while (pool.stats().mappedBytes() == 0 && System.nanoTime() < deadline) {
                Thread.sleep(5);
            }
            assertEquals(16 * MIB, pool.stats().mappedBytes());
            int p = pool.tryAllocate();
            assertTrue(p >= 0);
            pool.release(p);
        }
    }

    @Test
    void registrar_seesEverySlabOnceEachWay() {
        List<Long> registered = new ArrayList<>();
        List<Long> unregistered = new ArrayList<>();
        SlabRegistrar recording = new SlabRegistrar() {
            public void register(java.lang.foreign.MemorySegment slab) { registered.add(slab.address()); }
            public void unregister(java.lang.foreign.MemorySegment slab) { unregistered.add(slab.address()); }
            public String describe() { return "recording"; }
        };
        ChunkPool pool = new ChunkPool(8 * MIB, MIB, 2 * MIB, SlabSource.best(), recording);
        int a = pool.tryAllocate();
        int b = pool.tryAllocate();
        int c = pool.tryAllocate();
        pool.release(a);
        pool.release(b);
        pool.release(c);
        pool.close();
        assertTrue(registered.size() >= 2);
        assertEquals(Set.copyOf(registered), Set.copyOf(unregistered));
        assertNotEquals(registered.get(0), registered.get(1));
        assertThrows(IllegalStateException.class, pool::tryAllocate);
    }

    @Test
    @org.lmcache4j.ProvokesFaults("a slab that cannot be mapped")
    void slabThatCannotBeMapped_stopsGrowthWithoutThrowing() {
        SlabSource failing = new SlabSource() {
            private final ArenaSlabSource inner = new ArenaSlabSource();
            private int maps;

            public java.lang.foreign.MemorySegment map(long bytes) {
                if (++maps > 1) {
                    throw new OutOfMemoryError("no more memory for slab " + maps);
                }
                return inner.map(bytes);
            }

            public void prefault(java.lang.foreign.MemorySegment slab) { inner.prefault(slab); }
            public void unmap(java.lang.foreign.MemorySegment slab) { inner.unmap(slab); }
            public String describe() { return "failing"; }
        };
        try (ChunkPool pool = new ChunkPool(8 * MIB, MIB, 2 * MIB, failing, SlabRegistrar.NONE)) {
            int a = pool.tryAllocate();
            int b = pool.tryAllocate();
            assertTrue(a >= 0 && b >= 0, "the first slab works");
            assertEquals(-1, pool.tryAllocate(), "the pool stays at one slab");
            assertEquals(-1, pool.tryAllocate());
            pool.release(a);
            assertEquals(a, pool.tryAllocate(), "freed pages are reused");
            pool.release(a);
            pool.release(b);
            assertEquals(0, pool.stats().pagesInUse());
        }
    }

    @Test
    void zeroCapacity_neverAllocates() {
        try (ChunkPool pool = new ChunkPool(0, MIB, MIB, SlabSource.best(), SlabRegistrar.NONE)) {
            assertEquals(-1, pool.tryAllocate());
            assertEquals(0, pool.capacityPages());
        }
    }
}
