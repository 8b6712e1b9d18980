package org.lmcache4j;

import org.lmcache4j.keys.ChunkKey;
import org.lmcache4j.memory.PageLease;
import org.lmcache4j.transfer.PagedCaches;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;

/**
 * One {@link CacheEngine#retrieve}. Under the index lock: lease the leading chunks the CPU tier
 * holds, then, for the chunks after them that the disk tier holds, take a page each and index an
 * unpublished entry. Outside it: read those records in parallel, promote the ones that verified
 * (up to the first that did not: nothing after a gap is served), and copy every loaded chunk into
 * the paged caches.
 */
final class RetrieveOperation {
    private static final Logger LOG = LoggerFactory.getLogger(CacheEngine.REQUEST_LOGGER);

    /** A chunk to copy into the paged caches; {@code fromDisk} ones must be read into their page first. */
    private record Load(ChunkEntry entry, int from, int to, PageLease lease, boolean fromDisk) {
    }

    private final CacheEngine engine;
    private final KeyScope scope;
    private final int[] tokens;
    private final long[] slots;
    private final int skipLeading;
    private final int chunkSize;

    RetrieveOperation(CacheEngine engine, KeyScope scope, int[] tokens, long[] slots, int skipLeading) {
        this.engine = engine;
        this.scope = scope;
        this.tokens = tokens;
        this.slots = slots;
        this.skipLeading = skipLeading;
        this.chunkSize = engine.config().chunkSize();
    }

    int run() {
        PagedCaches caches = engine.requireCaches();
        RequestCheck.transfer(tokens, slots, skipLeading, chunkSize, engine.layout().numSlots());
        long start = engine.ticker().nanos();
        ChunkKey[] keys = engine.hasher().keys(scope, tokens);
        List<Load> loads = engine.locked(() -> plan(keys));
        int loaded = 0;
        int fromDisk = 0;
        long bytes = 0;
        try {
            int usable = readFromDisk(loads);
            for (int i = 0; i < usable; i++) {
                Load l = loads.get(i);
                engine.transfer().scatter(l.lease.segment(), caches, slots, l.from, l.to);
                loaded += l.to - l.from;
                fromDisk += l.fromDisk ? l.to - l.from : 0;
                bytes += engine.layout().chunkBytes(l.to - l.from);
            }
        } finally {
            loads.forEach(l -> l.lease.close());
        }
        EngineCounters counters = engine.counters();
        counters.retrieveRequests.increment();
        counters.requestedTokens.add(tokens.length - skipLeading);
        counters.retrievedTokens.add(loaded);
        counters.diskHitTokens.add(fromDisk);
        engine.metrics().retrieve(tokens.length - skipLeading, loaded, bytes, engine.ticker().nanos() - start);
        LOG.debug("retrieved {} of {} tokens (skipped {}, {} from disk)", loaded, tokens.length, skipLeading, fromDisk);
        return loaded;
    }

    /** Caller holds the index lock. */
    private List<Load> plan(ChunkKey[] keys) {
        int first = skipLeading / chunkSize;
        List<ChunkEntry> hits = engine.leadingHits(keys, tokens, first);
        List<Load> loads = new ArrayList<>();
        int c = first;
        for (ChunkEntry e : hits) {
            loads.add(new Load(e, c * chunkSize, engine.endOf(c, tokens.length), engine.pool().lease(e.page), false));
            c++;
        }
        for (; c < keys.length; c++) {
            int from = c * chunkSize;
            int to = engine.endOf(c, tokens.length);
            if (!engine.disk().contains(keys[c], to - from) || !engine.disk().beginRead(keys[c])) {
                break;
            }
            int page = engine.allocatePage();
            if (page < 0) {
                engine.disk().endRead(keys[c]);
                break;
            }
            ChunkKey parent = c == 0 ? engine.hasher().root(scope) : keys[c - 1];
            ChunkEntry entry = new ChunkEntry(keys[c], parent, page, tokens, from, to);
            entry.onDisk = true;
            engine.index().add(entry);
            loads.add(new Load(entry, from, to, engine.pool().lease(page), true));
        }
        int hitTokens = loads.isEmpty() ? 0 : loads.getLast().to - skipLeading;
        if (hitTokens < engine.config().minRetrieveTokens()) {
            undo(loads);
            return List.of();
        }
        List<ChunkEntry> touched = new ArrayList<>(loads.size());
        loads.forEach(l -> touched.add(l.entry));
        engine.touchReversed(touched);
        return loads;
    }

    /**
     * Reads the disk chunks in parallel and promotes the leading ones that verified; returns how
     * many loads, from the first, are usable.
     */
    private int readFromDisk(List<Load> loads) {
        List<CompletableFuture<Boolean>> reads = new ArrayList<>();
        for (Load l : loads) {
            reads.add(!l.fromDisk ? CompletableFuture.completedFuture(true) : CompletableFuture.supplyAsync(
                    () -> engine.disk().read(l.entry.key, tokens, l.from, l.to,
                            l.lease.segment().asSlice(0, engine.layout().chunkBytes(l.to - l.from))),
                    engine.disk().io()));
        }
        int usable = 0;
        while (usable < reads.size() && reads.get(usable).join()) {
            usable++;
        }
        reads.forEach(CompletableFuture::join);
        int firstBad = usable;
        engine.locked(() -> {
            for (int i = 0; i < loads.size(); i++) {
                Load l = loads.get(i);
                if (!l.fromDisk) {
                    continue;
                }
                engine.disk().endRead(l.entry.key);
                if (i < firstBad) {
                    l.entry.publish();
                } else if (engine.index().remove(l.entry)) {
                    engine.pool().release(l.entry.page);
                }
            }
            return null;
        });
        return usable;
    }

    /** Caller holds the index lock: forgets the disk chunks planned, and closes every lease. */
    private void undo(List<Load> loads) {
        for (Load l : loads) {
            if (l.fromDisk) {
                engine.disk().endRead(l.entry.key);
                if (engine.index().remove(l.entry)) {
                    engine.pool().release(l.entry.page);
                }
            }
            l.lease.close();
        }
    }
}
