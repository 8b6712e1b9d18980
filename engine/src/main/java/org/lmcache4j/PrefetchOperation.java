package org.lmcache4j;

import org.lmcache4j.PrefixLoad.Load;
import org.lmcache4j.keys.ChunkKey;
import org.lmcache4j.memory.PageLease;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;

/**
 * One {@link CacheEngine#prefetch}, on a prefetch worker (or on the caller's thread when there is
 * nothing to read): the prompt's prefix is brought into the CPU pool exactly as a retrieve brings
 * it ({@link PrefixLoad}), and no further: nothing is copied into the paged caches, and every
 * lease closes before it ends. Cancellation is looked at between the steps; reads already sent
 * are never abandoned, since their pages may not be freed while I/O still writes into them.
 */
final class PrefetchOperation {
    private static final Logger LOG = LoggerFactory.getLogger(CacheEngine.REQUEST_LOGGER);
    /** How long a prefetch waits for another request's load of the same prefix before it plans without it. */
    static final long CONCURRENT_LOAD_WAIT_NANOS = TimeUnit.SECONDS.toNanos(10);
    private static final long CONCURRENT_LOAD_POLL_NANOS = TimeUnit.MICROSECONDS.toNanos(200);

    private final CacheEngine engine;
    /** The request to pin the prefix for, or null not to pin. */
    private final String pinFor;
    private final KeyScope scope;
    private final int[] tokens;
    private final ChunkKey[] keys;
    private final Prefetch handle;
    private final PrefetchCounters counters;

    PrefetchOperation(CacheEngine engine, String pinFor, KeyScope scope, int[] tokens, ChunkKey[] keys,
                      Prefetch handle, PrefetchCounters counters) {
        this.engine = engine;
        this.pinFor = pinFor;
        this.scope = scope;
        this.tokens = tokens;
        this.keys = keys;
        this.handle = handle;
        this.counters = counters;
    }

    void run() {
        if (!handle.start()) {
            return; // cancelled while queued
        }
        try {
            load(); // finishes the handle once every lease is closed: a waiter sees a settled pool
        } catch (RuntimeException | Error e) {
            LOG.warn("a prefetch of {} tokens failed; the request loads what the pool holds: {}", tokens.length,
                    e.toString());
            handle.finish(Prefetch.State.FAILED, 0);
            if (e instanceof Error error) {
                throw error;
            }
        }
    }

    private void load() {
        Prefetch.State end;
        int ready;
        PrefixLoad prefix = new PrefixLoad(engine, scope, tokens, keys, 0, false);
        awaitConcurrentLoads(prefix);
        boolean settled = false;
        try {
            prefix.planLocal();
            int cpuHits = prefix.cpuHits();
            handle.progress(prefix.endOf(cpuHits));
            if (!handle.cancelRequested()) {
                prefix.planRemote();
            }
            // Cancelled before any read was sent: the chunks planned below the CPU tier are dropped.
            int usable = handle.cancelRequested() ? cpuHits : prefix.read();
            boolean cancelled = engine.locked(() -> settleAndPin(prefix, usable));
            settled = true;
            int[] bySource = new int[PrefixLoad.Source.values().length];
            for (Load l : prefix.loads().subList(0, usable)) {
                bySource[l.source().ordinal()] += l.to() - l.from();
            }
            counters.diskTokens.add(bySource[PrefixLoad.Source.DISK.ordinal()]);
            counters.remoteTokens.add(bySource[PrefixLoad.Source.REMOTE.ordinal()]);
            ready = prefix.endOf(usable);
            end = cancelled ? Prefetch.State.CANCELLED : Prefetch.State.DONE;
            LOG.debug("prefetched {} of {} tokens ({} were in memory; {} from disk, {} from remote){}", ready,
                    tokens.length, prefix.endOf(cpuHits), bySource[PrefixLoad.Source.DISK.ordinal()],
                    bySource[PrefixLoad.Source.REMOTE.ordinal()], cancelled ? ", cancelled" : "");
        } finally {
            if (!settled) {
                engine.locked(() -> prefix.settle(0)); // something threw: nothing of this prefetch is published
            }
            prefix.closeLeases(0);
        }
        handle.finish(end, ready);
    }

    /**
     * Waits, at most {@link #CONCURRENT_LOAD_WAIT_NANOS}, while another request loads or stores a
     * chunk of this prefix: planned now, the prefetch would stop at that chunk, and its request
     * would recompute a prefix that lands in the pool moments later (two users asking about one
     * document at once). Reads of other requests are bounded by the tiers' timeouts; the bound
     * here covers a store whose copies never land.
     */
    private void awaitConcurrentLoads(PrefixLoad prefix) {
        long start = engine.ticker().nanos();
        while (!handle.cancelRequested() && prefix.concurrentlyLoaded()
                && engine.ticker().nanos() - start < CONCURRENT_LOAD_WAIT_NANOS) {
            LockSupport.parkNanos(CONCURRENT_LOAD_POLL_NANOS);
        }
    }

    /**
     * Caller holds the index lock: publishes the loads that verified and, unless the prefetch was
     * cancelled, pins the prefix for {@code pinFor}; returns whether it was cancelled.
     */
    private boolean settleAndPin(PrefixLoad prefix, int usable) {
        prefix.settle(usable);
        boolean cancelled = handle.commit();
        if (!cancelled && pinFor != null) {
            List<PageLease> leases = new ArrayList<>(usable);
            for (Load l : prefix.loads().subList(0, usable)) {
                leases.add(engine.pool().lease(l.entry().page));
            }
            engine.pins().pin(pinFor, leases, engine.ticker().nanos());
        }
        return cancelled;
    }
}
