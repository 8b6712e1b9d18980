package org.lmcache4j;

import org.lmcache4j.config.DiskOptions;
import org.lmcache4j.disk.SpillTier;
import org.lmcache4j.memory.ChunkPool;
import org.lmcache4j.memory.PageLease;
import org.lmcache4j.record.RecordHeader;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.ArrayList;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.LongAdder;
import java.util.concurrent.locks.LockSupport;

/**
 * Moves chunks from the CPU pool to the disk tier in the background, so that {@code store} never
 * waits for a disk.
 *
 * <h2>Write-behind with watermarks</h2>
 * When the pool's pages in use pass the high watermark ({@code disk_spill_high_watermark} of its
 * capacity), the spiller takes least recently used chunks, leases their pages, writes their
 * records in parallel on the tier's I/O threads, and then frees each page whose chunk nobody else
 * has leased meanwhile, until usage is back under the low watermark. Chunks that are already on
 * disk (promoted from it, or written through) are simply dropped. A store that still finds the
 * pool full evicts as before: the watermarks exist so that it rarely has to drop a chunk that is
 * on no disk yet.
 *
 * <h2>Write-through</h2>
 * With {@code disk_write_through}, every chunk a store publishes is also written at once, on the
 * I/O threads. At most {@code 4 × disk_io_threads} such writes wait at a time; beyond that a chunk
 * is left to the write-behind path (and counted), so a slow disk cannot pin the pool.
 *
 * <h2>A disk that refuses</h2>
 * While the tier is not writable (read-only or failing: it probes in the background) the
 * spiller picks nothing and write-through queues nothing; stores evict as without a disk. When
 * the tier takes a batch but refuses every record in it (no room: bigger than the device holds,
 * or the rest is being read), the spiller waits longer before the next try, 20 ms doubling to
 * 1 s, instead of offering the same chunks again every 20 ms.
 */
final class Spiller implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(Spiller.class);
    private static final long IDLE_NANOS = TimeUnit.MILLISECONDS.toNanos(20);
    private static final long MAX_BACKOFF_NANOS = TimeUnit.SECONDS.toNanos(1);

    private record Job(ChunkEntry entry, PageLease lease) {
    }

    private final CacheEngine engine;
    private final SpillTier disk;
    private final ChunkPool pool;
    private final DiskOptions options;
    private final Thread thread;
    private final Semaphore writeThroughSlots;
    final LongAdder spilledChunks = new LongAdder();
    final LongAdder writeThroughSkipped = new LongAdder();
    private volatile boolean running = true;

    Spiller(CacheEngine engine, SpillTier disk, ChunkPool pool, DiskOptions options) {
        this.engine = engine;
        this.disk = disk;
        this.pool = pool;
        this.options = options;
        this.writeThroughSlots = new Semaphore(4 * options.ioThreads());
        // Without a disk tier there is nothing to spill to, and no thread.
        this.thread = disk.enabled() ? Thread.ofPlatform().daemon().name("lmcache4j-spiller").start(this::loop) : null;
    }

    /** Tells the spiller that the pool filled a little more. */
    void wake() {
        if (thread != null) {
            LockSupport.unpark(thread);
        }
    }

    /** Under the index lock: queues freshly published chunks for write-through, if configured. */
    void writeThrough(List<ChunkEntry> published) {
        if (thread == null || !options.writeThrough() || !disk.writable()) {
            return;
        }
        for (ChunkEntry e : published) {
            if (engine.clean(e) || e.spilling) {
                continue;
            }
            if (!writeThroughSlots.tryAcquire()) {
                writeThroughSkipped.increment();
                continue;
            }
            Job job = begin(e);
            CompletableFuture.runAsync(() -> finish(job, write(job), false), disk.io())
                    .whenComplete((v, t) -> writeThroughSlots.release());
        }
    }

    private void loop() {
        long backoff = IDLE_NANOS;
        long resumeAt = System.nanoTime();
        while (running) {
            LockSupport.parkNanos(IDLE_NANOS);
            if (System.nanoTime() - resumeAt < 0) {
                continue; // backing off: a wake() from a store does not cut the wait short
            }
            try {
                backoff = spillWhileAboveWatermark() ? Math.min(MAX_BACKOFF_NANOS, 2 * backoff) : IDLE_NANOS;
            } catch (RuntimeException e) {
                LOG.warn("spilling failed, will retry: {}", e.toString());
            }
            resumeAt = System.nanoTime() + backoff - IDLE_NANOS;
        }
    }

    /** Spills down to the low watermark; true when it stopped because the tier refused a whole batch. */
    private boolean spillWhileAboveWatermark() {
        if (!disk.writable()) {
            return false; // nothing to offer it until its probe finds the directory writable
        }
        int capacity = pool.capacityPages();
        // At least one page of headroom above the high mark, and one below it for the low one.
        int high = Math.max(1, Math.min(capacity - 1, (int) Math.floor(options.highWatermark() * capacity)));
        int low = Math.max(0, Math.min(high - 1, (int) Math.floor(options.lowWatermark() * capacity)));
        while (running && capacity > 0 && pool.stats().pagesInUse() >= high && disk.writable()) {
            int excess = pool.stats().pagesInUse() - low;
            List<Job> batch = engine.locked(() -> pickVictims(Math.min(excess, 2 * options.ioThreads())));
            if (batch.isEmpty()) {
                return false;
            }
            List<CompletableFuture<Boolean>> writes = new ArrayList<>();
            for (Job job : batch) {
                writes.add(CompletableFuture.supplyAsync(() -> write(job), disk.io()).thenApply(ok -> {
                    finish(job, ok, true);
                    return ok;
                }));
            }
            CompletableFuture.allOf(writes.toArray(CompletableFuture[]::new)).join();
            if (writes.stream().noneMatch(CompletableFuture::join)) {
                return true; // the disk refuses (full, or every candidate held): try again after a pause
            }
        }
        return false;
    }

    /**
     * Under the index lock: drops clean chunks from the least recently used end outright, and
     * leases up to {@code max} dirty ones for writing.
     */
    private List<Job> pickVictims(int max) {
        List<Job> jobs = new ArrayList<>();
        for (ChunkEntry e : engine.index().oldest(max, e -> e.published() && !e.spilling
                && pool.refCount(e.page) == 1)) {
            if (engine.clean(e)) {
                engine.index().remove(e);
                pool.release(e.page);
            } else {
                jobs.add(begin(e));
            }
        }
        return jobs;
    }

    private Job begin(ChunkEntry e) {
        e.spilling = true;
        return new Job(e, pool.lease(e.page));
    }

    /** Writes the job's chunk; never throws, so that its lease is always closed by {@link #finish}. */
    private boolean write(Job job) {
        ChunkEntry e = job.entry;
        try {
            return disk.write(e.key, e.parent, e.tokens(), job.lease.segment().asSlice(0,
                    engine.layout().chunkBytes(e.tokenCount())));
        } catch (RuntimeException ex) {
            LOG.warn("spilling chunk {} failed: {}", e.key, ex.toString());
            return false;
        }
    }

    /** Marks the chunk written; for write-behind, frees its page unless someone else holds it. */
    private void finish(Job job, boolean written, boolean free) {
        engine.locked(() -> {
            ChunkEntry e = job.entry;
            e.spilling = false;
            if (written) {
                e.onDisk = true;
                spilledChunks.increment();
                if (free && engine.index().contains(e) && pool.refCount(e.page) == 2) {
                    engine.index().remove(e);
                    pool.release(e.page);
                }
            }
            return null;
        });
        job.lease.close();
    }

    /**
     * Writes every chunk that is on no disk yet, once, least recently used first (so that the most
     * recent ones are the disk's most recent too): at a graceful close, the pool's contents outlive
     * the process. When the tier's cap (in effect) holds less than the pool, only the newest chunks
     * that fit are written, counting those already on disk, at their uncompressed size.
     */
    void flush() {
        if (thread == null) {
            return;
        }
        if (!disk.writable()) {
            LOG.warn("not writing the pool to disk at close: the disk tier cannot be written");
            return;
        }
        // Each chunk once: when the disk is smaller than the pool, a later write evicts an earlier one, which is
        // then on no disk again, and offering it anew would go round for ever. And only the newest chunks that fit
        // under the tier's cap: an older one would be written only to be evicted by the next.
        Set<ChunkEntry> offered = Collections.newSetFromMap(new IdentityHashMap<>());
        long leftOut = engine.locked(() -> {
            List<ChunkEntry> all = engine.index().oldest(Integer.MAX_VALUE, ChunkEntry::published);
            long room = disk.stats().effectiveCapacityBytes();
            for (int i = all.size() - 1; i >= 0; i--) {
                int tokens = all.get(i).tokenCount();
                room -= RecordHeader.headerBytes(tokens) + RecordHeader.roundUp(engine.layout().chunkBytes(tokens));
                if (room < 0) {
                    offered.addAll(all.subList(0, i + 1));
                    return all.subList(0, i + 1).stream().filter(e -> !engine.clean(e)).count();
                }
            }
            return 0L;
        });
        if (leftOut > 0) {
            LOG.info("writing the pool to disk at close: {} older chunks are left out, the disk tier's cap holds only"
                    + " the newer ones", leftOut);
        }
        while (true) {
            List<Job> batch = engine.locked(() -> {
                List<Job> jobs = new ArrayList<>();
                for (ChunkEntry e : engine.index().oldest(2 * options.ioThreads(), e -> e.published() && !engine.clean(e)
                        && !e.spilling && pool.refCount(e.page) == 1 && !offered.contains(e))) {
                    offered.add(e);
                    jobs.add(begin(e));
                }
                return jobs;
            });
            if (batch.isEmpty()) {
                return;
            }
            AtomicBoolean allWritten = new AtomicBoolean(true);
            CompletableFuture.allOf(batch.stream().map(job -> CompletableFuture.supplyAsync(() -> write(job), disk.io())
                    .thenAccept(ok -> {
                        finish(job, ok, false);
                        if (!ok) {
                            allWritten.set(false);
                        }
                    })).toArray(CompletableFuture[]::new)).join();
            if (!allWritten.get()) {
                LOG.warn("stopped writing the pool to disk at close: the disk tier refused a record (full?)");
                return;
            }
        }
    }

    /** Stops spilling and waits for the writes in flight. */
    @Override
    public void close() {
        running = false;
        if (thread == null) {
            return;
        }
        LockSupport.unpark(thread);
        try {
            thread.join(TimeUnit.SECONDS.toMillis(60));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        int slots = 4 * options.ioThreads();
        try {
            if (writeThroughSlots.tryAcquire(slots, 60, TimeUnit.SECONDS)) {
                writeThroughSlots.release(slots);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
