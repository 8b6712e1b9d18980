package org.lmcache4j;

import org.lmcache4j.keys.ChunkKey;
import org.lmcache4j.memory.PageLease;
import org.lmcache4j.transfer.PagedCaches;
import org.lmcache4j.transfer.TransferBatch;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.ArrayList;
import java.util.List;

/**
 * One {@link CacheEngine#store}: plan under the index lock (which chunks are new, a page and a
 * lease for each, evicting if the pool is full), copy outside it, publish under it again.
 */
final class StoreOperation extends RequestOperation {
    private static final Logger LOG = LoggerFactory.getLogger(CacheEngine.REQUEST_LOGGER);

    /** A planned chunk: its unpublished entry, its tokens, and the lease its copies hold. */
    record Pending(ChunkEntry entry, int from, int to, PageLease lease) {
    }

    private int cachedPrefix;
    /** Tokens planned ({@link #planStore}) and when planning began, for the metrics. */
    private int planned;
    private long start;

    StoreOperation(CacheEngine engine, KeyScope scope, int[] tokens, long[] slots, int skipLeading,
                   CudaStream stream) {
        super(engine, scope, tokens, slots, skipLeading, stream);
    }

    int run() {
        CacheEngine.Registered registered = validated();
        PagedCaches caches = registered.caches();
        List<Pending> pending = planStore();
        TransferBatch batch;
        try {
            batch = registered.transfer().begin(caches, slots, stream);
        } catch (RuntimeException | Error e) {
            drop(pending);
            throw e;
        }
        try {
            for (Pending p : pending) {
                batch.gather(p.from, p.to, p.lease.segment());
            }
        } catch (RuntimeException | Error e) {
            drop(pending); // a batch dropped before its finish has moved nothing that is still moving
            throw e;
        }
        boolean[] ran = new boolean[1];
        // Host copies have landed already and this runs now; device copies land later, and the
        // chunks become visible only then (a chunk is published once its bytes are complete).
        try {
            batch.finish(failure -> {
                ran[0] = true;
                if (failure != null) {
                    drop(pending);
                    LOG.error("storing {} chunks failed on the device, none was kept: {}", pending.size(),
                            failure.toString());
                    return;
                }
                landed(pending);
            });
        } catch (RuntimeException | Error e) {
            if (!ran[0]) {
                drop(pending); // queuing failed: its finish waited for what it queued, nothing is published
            }
            throw e;
        }
        return planned;
    }

    /**
     * Plans the store under the index lock (the arguments validated): the new chunks, each indexed
     * unpublished with a page and a lease, which the caller copies and then {@link #landed lands}
     * or {@link #drop drops}. A layer-by-layer store ({@link LayeredStore}) shares it.
     */
    List<Pending> planStore() {
        start = engine.ticker().nanos();
        int storable = engine.config().saveUnfullChunk() ? tokens.length : tokens.length / chunkSize * chunkSize;
        ChunkKey[] keys = engine.hasher().keys(scope, tokens, engine.hasher().chunkCount(storable));
        cachedPrefix = skipLeading;
        List<Pending> pending = engine.locked(() -> {
            List<Pending> planned = new ArrayList<>();
            try {
                plan(keys, planned);
                return planned;
            } catch (RuntimeException | Error e) {
                undo(planned); // nothing of a store that failed half-planned stays behind
                throw e;
            }
        });
        LOG.info("Store skips {} tokens and then stores {} tokens", cachedPrefix, tokens.length - cachedPrefix);
        planned = 0;
        for (Pending p : pending) {
            planned += p.to - p.from;
        }
        return pending;
    }

    /** The chunks' bytes are in their pages: publish them, hand them to the lower tiers, count. */
    void landed(List<Pending> pending) {
        int stored = planned;
        List<Pending> toRemote;
        try {
            toRemote = engine.locked(() -> publish(pending));
        } finally {
            pending.forEach(p -> p.lease.close());
        }
        engine.spiller().wake();
        for (int i = 0; i < toRemote.size(); i++) {
            Pending p = toRemote.get(i);
            try {
                engine.remote().write(p.entry.key, p.entry.parent, p.entry.tokens(),
                        p.lease.segment().asSlice(0, engine.layout().chunkBytes(p.to - p.from)), p.lease::close);
            } catch (RuntimeException | Error e) {
                // The tier owns a lease once write() returns; the rest are still ours to close.
                toRemote.subList(i, toRemote.size()).forEach(q -> q.lease.close());
                throw e;
            }
        }
        long bytes = 0;
        for (Pending p : pending) {
            bytes += engine.layout().chunkBytes(p.to - p.from);
        }
        EngineCounters counters = engine.counters();
        counters.storeRequests.increment();
        counters.storedTokens.add(stored);
        engine.metrics().store(tokens.length, stored, bytes, engine.ticker().nanos() - start);
    }

    /** Nothing is published yet: the whole store is undone and its leases closed. */
    void drop(List<Pending> pending) {
        engine.locked(() -> {
            forget(pending);
            return null;
        });
        pending.forEach(p -> p.lease.close());
    }

    /**
     * Caller holds the index lock: publishes the chunks still indexed (a concurrent clear may have
     * dropped some), hands them to write-through, and leases the ones the remote tier will write.
     */
    private List<Pending> publish(List<Pending> pending) {
        List<ChunkEntry> published = new ArrayList<>(pending.size());
        List<Pending> shared = new ArrayList<>();
        for (Pending p : pending) {
            if (engine.index().contains(p.entry)) {
                engine.index().publish(p.entry);
                published.add(p.entry);
                if (engine.remote().enabled()) {
                    shared.add(new Pending(p.entry, p.from, p.to, engine.pool().lease(p.entry.page)));
                }
            }
        }
        engine.spiller().writeThrough(published);
        return shared;
    }

    /** Caller holds the index lock: drops the planned entries from the index and frees their pages. */
    private void forget(List<Pending> planned) {
        for (Pending p : planned) {
            if (engine.index().remove(p.entry)) {
                engine.pool().release(p.entry.page);
            }
        }
    }

    private void undo(List<Pending> planned) {
        forget(planned);
        planned.forEach(p -> p.lease.close());
    }

    /** Caller holds the index lock. Fills {@code pending} as it goes, so that a failure can be undone. */
    private void plan(ChunkKey[] keys, List<Pending> pending) {
        List<ChunkEntry> requestEntries = new ArrayList<>();
        // Use the chunks this prompt already has first, so that making room for its new ones
        // never evicts its own prefix (a suffix without its prefix can never hit).
        // From chunk 0: the skipped prefix too (its pages must not go to this prompt's suffix).
        List<ChunkEntry> alreadyHere = new ArrayList<>();
        for (int c = 0; c < keys.length; c++) {
            ChunkEntry e = engine.index().get(keys[c]);
            if (e != null) {
                alreadyHere.add(e);
            }
        }
        engine.used(alreadyHere, true);
        boolean leading = true;
        for (int c = skipLeading / chunkSize; c < keys.length; c++) {
            int from = c * chunkSize;
            int to = engine.endOf(c, tokens.length);
            ChunkEntry present = engine.index().get(keys[c]);
            if (present != null || engine.disk().contains(keys[c], to - from)) {
                if (leading) {
                    cachedPrefix = to;
                }
                if (present != null) {
                    requestEntries.add(present);
                    engine.trace().record(c, keys[c], to - from, AccessTrace.Kind.TOUCH);
                }
                continue;
            }
            leading = false;
            if (hasHole(from, to)) {
                LOG.debug("not storing tokens {}.. : chunk {} has slots of -1", from, c);
                break;
            }
            int page = engine.allocatePage(keys[c], c == 0 ? null : engine.index().get(keys[c - 1]));
            if (page == CacheEngine.DECLINED) {
                // the rest of the prompt ranks no higher: the policy remembers it was asked for
                for (int d = c; d < keys.length; d++) {
                    if (engine.index().get(keys[d]) == null) {
                        engine.index().declined(keys[d]);
                    }
                }
                engine.counters().storeDeclinedChunks.add(keys.length - c);
                LOG.debug("the eviction policy keeps what it has: not storing the last {} chunks", keys.length - c);
                break;
            }
            if (page < 0) {
                engine.counters().storeSkippedChunks.add(keys.length - c);
                LOG.debug("pool full of leased chunks: not storing the last {} chunks", keys.length - c);
                break;
            }
            ChunkKey parent = parentOf(keys, c);
            ChunkEntry entry = new ChunkEntry(keys[c], parent, page, tokens, from, to);
            engine.index().add(entry);
            engine.trace().record(c, keys[c], to - from, AccessTrace.Kind.STORE);
            pending.add(new Pending(entry, from, to, engine.pool().lease(page)));
            requestEntries.add(entry);
        }
        // The skipped prefix is this prompt's too: used with it, in prompt order, so that a stored
        // suffix never outlives its own prefix.
        List<ChunkEntry> wholePrompt = new ArrayList<>();
        for (int c = 0; c < skipLeading / chunkSize && c < keys.length; c++) {
            ChunkEntry prefix = engine.index().get(keys[c]);
            if (prefix != null) {
                wholePrompt.add(prefix);
            }
        }
        wholePrompt.addAll(requestEntries);
        engine.used(wholePrompt, true);
    }

    private boolean hasHole(int from, int to) {
        for (int t = from; t < to; t++) {
            if (slots[t] < 0) {
                return true;
            }
        }
        return false;
    }
}
