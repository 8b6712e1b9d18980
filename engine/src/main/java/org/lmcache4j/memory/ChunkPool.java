package org.lmcache4j.memory;

import java.lang.foreign.MemorySegment;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicIntegerArray;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReferenceArray;
import java.util.concurrent.locks.ReentrantLock;

/**
 * The CPU tier's memory: fixed-size pages of one chunk each, carved out of slabs that are mapped
 * only as the pool fills.
 *
 * <h2>Why slabs, and why lazily</h2>
 * LMCache allocates its whole buffer at start-up. On these machines first touch of fresh memory
 * runs at 0.7 GB/s with 4 KiB pages, so a 20 GB pool would stall start-up for half a minute, and
 * a giant pinned allocation fails outright on large hosts. Here the pool is a list of slabs of
 * about {@code slabTargetBytes} each, mapped on demand: an engine configured with 20 GB starts at
 * once and touches only what it stores.
 *
 * <h2>Why the next slab is faulted in the background</h2>
 * A page must never be handed to {@code store} cold, or the copy would pay the page faults
 * (and run at a tenth of its speed). So a slab only joins the free list after
 * {@link SlabSource#prefault} has populated it, and as soon as the free list runs lower than one
 * slab's worth of pages, the next slab is mapped, registered and faulted on a background thread.
 * If stores outrun it, the allocating thread waits for that one slab rather than evicting
 * chunks that still fit.
 *
 * <h2>Reference counts</h2>
 * {@link #tryAllocate} returns a page with count 1: the owner's reference (the index entry that
 * holds the chunk). Every reader takes a {@link PageLease}, which adds one. The page returns to
 * the free list when the count reaches zero, whichever release comes last, so an evicted or
 * cleared chunk that is still being copied stays intact until its copy ends.
 *
 * <p>Thread-safe. The free list and growth are guarded by one lock; reference counts are atomic
 * so that leases can be released without it.
 */
public final class ChunkPool implements AutoCloseable {
    private static final org.slf4j.Logger LOG = org.slf4j.LoggerFactory.getLogger(ChunkPool.class);
    /** Pages start and end on 4 KiB boundaries: the unit of O_DIRECT. */
    static final long PAGE_ALIGN = 4096;
    private final long capacityBytes;
    private final long pageBytes;
    private final int capacityPages;
    private final int pagesPerSlab;
    private final SlabSource source;
    /** Written under {@link #lock}; read by the grower thread as it maps a slab. */
    private volatile SlabRegistrar registrar;

    private final AtomicReferenceArray<MemorySegment> slabs;
    private final AtomicIntegerArray refCounts;
    private final AtomicLong leases = new AtomicLong();
    private final AtomicLong mappedBytes = new AtomicLong();
    private final AtomicLong growthWaitNanos = new AtomicLong();

    private final ReentrantLock lock = new ReentrantLock();
    private final int[] freePages;
    private int freeCount;
    private int publishedSlabs;
    private CompletableFuture<MemorySegment> growing;
    /** Set when mapping a slab failed: the pool stays at the slabs it has (a store then evicts or skips). */
    private boolean growthStopped;
    private final ExecutorService grower;
    private boolean closed;

    /**
     * @param capacityBytes   the most memory the pool may map
     * @param pageBytes       bytes of one page (rounded up to 4 KiB, so that every page can move with O_DIRECT)
     * @param slabTargetBytes about how much to map at a time
     */
    public ChunkPool(long capacityBytes, long pageBytes, long slabTargetBytes, SlabSource source,
                     SlabRegistrar registrar) {
        if (capacityBytes < 0) {
            throw new IllegalArgumentException("pool capacity must not be negative, got " + capacityBytes);
        }
        if (pageBytes <= 0) {
            throw new IllegalArgumentException("page size must be positive, got " + pageBytes);
        }
        this.capacityBytes = capacityBytes;
        this.pageBytes = (pageBytes + PAGE_ALIGN - 1) & -PAGE_ALIGN;
        long pages = capacityBytes / this.pageBytes;
        if (pages > Integer.MAX_VALUE - 8) {
            throw new IllegalArgumentException("pool of " + capacityBytes + " bytes has too many pages of "
                    + this.pageBytes + " bytes");
        }
        this.capacityPages = (int) pages;
        this.pagesPerSlab = (int) Math.max(1, Math.min(Math.max(1, capacityPages),
                Math.max(1, slabTargetBytes / this.pageBytes)));
        this.source = source;
        this.registrar = registrar;
        int slabCount = capacityPages == 0 ? 0 : (capacityPages + pagesPerSlab - 1) / pagesPerSlab;
        this.slabs = new AtomicReferenceArray<>(slabCount);
        this.refCounts = new AtomicIntegerArray(capacityPages);
        this.freePages = new int[capacityPages];
        this.grower = Executors.newSingleThreadExecutor(r -> {
            Thread t = new Thread(r, "lmcache4j-pool-grower");
            t.setDaemon(true);
            return t;
        });
    }

    /**
     * Registers every slab mapped so far, and every later one, with {@code next} (the device's,
     * once caches on it are registered). Only a pool on plain memory may switch: one pool serves
     * one device. If registering a slab fails, the ones done are undone and nothing changes.
     */
    public void useRegistrar(SlabRegistrar next) {
        lock.lock();
        try {
            requireOpen();
            if (next == registrar) {
                return;
            }
            if (registrar != SlabRegistrar.NONE) {
                throw new IllegalStateException("the CPU pool is already registered " + registrar.describe()
                        + ": it cannot also be " + next.describe());
            }
            takeGrownSlab(true); // a slab being mapped would otherwise miss the switch
            int done = 0;
            try {
                for (; done < publishedSlabs; done++) {
                    next.register(slabs.get(done));
                }
            } catch (RuntimeException | Error e) {
                for (int i = 0; i < done; i++) {
                    next.unregister(slabs.get(i));
                }
                throw e;
            }
            registrar = next;
        } finally {
            lock.unlock();
        }
    }

    public int capacityPages() {
        return capacityPages;
    }

    public long pageBytes() {
        return pageBytes;
    }

    /**
     * Starts faulting in the next slab in the background if the free list is short; the engine
     * calls it when caches are registered, so the first store finds warm pages.
     */
    public void prepareGrowth() {
        lock.lock();
        try {
            growIfLow();
        } finally {
            lock.unlock();
        }
    }

    /** A free page with reference count 1, or -1 when every page the pool may hold is in use. */
    public int tryAllocate() {
        lock.lock();
        try {
            requireOpen();
            if (freeCount == 0 && publishedSlabs < slabs.length() && !growthStopped) {
                // Stores outran the background grower: wait for (or fault in) the next slab.
                long start = System.nanoTime();
                takeGrownSlab(true);
                if (freeCount == 0 && !growthStopped) {
                    try {
                        publish(mapSlab(publishedSlabs));
                    } catch (RuntimeException | OutOfMemoryError e) {
                        stopGrowing(e);
                    }
                }
                growthWaitNanos.addAndGet(System.nanoTime() - start);
            }
            if (freeCount == 0) {
                return -1;
            }
            int page = freePages[--freeCount];
            refCounts.set(page, 1);
            growIfLow();
            return page;
        } finally {
            lock.unlock();
        }
    }

    /** The memory of a page that the caller holds a reference to. */
    public MemorySegment page(int page) {
        MemorySegment slab = slabs.get(page / pagesPerSlab);
        return slab.asSlice((long) (page % pagesPerSlab) * pageBytes, pageBytes);
    }

    /** Opens a lease on a page the caller knows to be referenced (its count is at least 1). */
    public PageLease lease(int page) {
        int before = refCounts.getAndIncrement(page);
        if (before <= 0) {
            refCounts.getAndDecrement(page);
            throw new IllegalStateException("lease on free page " + page);
        }
        leases.incrementAndGet();
        return new PageLease(this, page);
    }

    /** Current reference count of a page: 0 free, 1 owned only, more when leased. */
    public int refCount(int page) {
        return refCounts.get(page);
    }

    /** Drops a reference; the page is freed when none is left. */
    public void release(int page) {
        int after = refCounts.decrementAndGet(page);
        if (after < 0) {
            refCounts.incrementAndGet(page);
            throw new IllegalStateException("page " + page + " released more often than referenced");
        }
        if (after == 0) {
            lock.lock();
            try {
                freePages[freeCount++] = page;
            } finally {
                lock.unlock();
            }
        }
    }

    void endLease(int page) {
        leases.decrementAndGet();
        release(page);
    }

    public PoolStats stats() {
        lock.lock();
        try {
            int pagesInUse = publishedSlabs == 0 ? 0 : publishedPages() - freeCount;
            return new PoolStats(capacityBytes, pageBytes, capacityPages, mappedBytes.get(), pagesInUse,
                    leases.get(), growthWaitNanos.get());
        } finally {
            lock.unlock();
        }
    }

    /** One line for the start-up log. */
    public String describe() {
        return String.format("%.2f GiB in %d-page slabs of %.0f MiB (%s, %s)",
                capacityBytes / (double) (1L << 30), pagesPerSlab,
                pagesPerSlab * pageBytes / (double) (1 << 20), source.describe(), registrar.describe());
    }

    @Override
    public void close() {
        lock.lock();
        try {
            if (closed) {
                return;
            }
            closed = true;
            takeGrownSlab(true);
            grower.shutdown();
            for (int i = 0; i < slabs.length(); i++) {
                MemorySegment slab = slabs.getAndSet(i, null);
                if (slab != null) {
                    try {
                        registrar.unregister(slab);
                    } catch (RuntimeException e) {
                        // A device in a broken state (a sticky fault) refuses; the mapping still goes.
                        LOG.error("unregistering a slab of the CPU pool failed: {}", e.toString());
                    }
                    source.unmap(slab);
                }
            }
            mappedBytes.set(0);
            try {
                registrar.close();
            } catch (RuntimeException e) {
                LOG.error("releasing the CPU pool's device registration failed: {}", e.toString());
            }
        } finally {
            lock.unlock();
        }
    }

    private int publishedPages() {
        return Math.min(capacityPages, publishedSlabs * pagesPerSlab);
    }

    private void growIfLow() {
        if (growing == null && freeCount < pagesPerSlab && publishedSlabs < slabs.length() && !closed && !growthStopped) {
            int index = publishedSlabs;
            growing = CompletableFuture.supplyAsync(() -> mapSlab(index), grower);
        }
    }

    /** Publishes the background slab if it is ready (or, with {@code wait}, once it is). */
    private void takeGrownSlab(boolean wait) {
        if (growing == null || (!wait && !growing.isDone())) {
            return;
        }
        CompletableFuture<MemorySegment> done = growing;
        growing = null;
        try {
            publish(done.join());
        } catch (RuntimeException | OutOfMemoryError e) {
            stopGrowing(e);
        }
    }

    /**
     * Mapping, registering or faulting a slab failed (no memory, a device refusing to pin it): the
     * pool keeps the slabs it has rather than fail every store that would need a new one.
     */
    private void stopGrowing(Throwable cause) {
        growthStopped = true;
        Throwable root = cause instanceof java.util.concurrent.CompletionException && cause.getCause() != null
                ? cause.getCause() : cause;
        LOG.error("the CPU pool cannot grow past {} of {} pages ({}): it stays at that size",
                publishedPages(), capacityPages, root.toString());
    }

    private MemorySegment mapSlab(int index) {
        int pages = Math.min(pagesPerSlab, capacityPages - index * pagesPerSlab);
        MemorySegment slab = source.map(SlabSource.roundUpToHugePage(pages * pageBytes));
        try {
            registrar.register(slab);
            source.prefault(slab);
        } catch (RuntimeException | Error e) {
            source.unmap(slab);
            throw e;
        }
        mappedBytes.addAndGet(slab.byteSize());
        return slab;
    }

    private void publish(MemorySegment slab) {
        int index = publishedSlabs;
        slabs.set(index, slab);
        int first = index * pagesPerSlab;
        int last = Math.min(capacityPages, first + pagesPerSlab);
        // Pushed in reverse so that pages are handed out in address order.
        for (int page = last - 1; page >= first; page--) {
            freePages[freeCount++] = page;
        }
        publishedSlabs++;
    }

    private void requireOpen() {
        if (closed) {
            throw new IllegalStateException("the chunk pool is closed");
        }
    }
}
