package org.lmcache4j;

import org.lmcache4j.keys.ChunkKey;
import org.lmcache4j.memory.PageLease;
import org.lmcache4j.remote.RemoteTier;
import org.lmcache4j.transfer.PagedCaches;
import org.lmcache4j.transfer.TransferBatch;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CompletableFuture;

/**
 * One {@link CacheEngine#retrieve}, walking the prefix down the tiers.
 * <ol>
 *   <li>Under the index lock: lease the leading chunks the CPU tier holds; for the chunks after
 *       them that the disk tier holds, take a page each and index an unpublished entry.</li>
 *   <li>Outside it: ask the remote tier, in one batch, how many of the chunks after those it holds;
 *       take pages for them under the lock again.</li>
 *   <li>Read the disk records (in parallel) and the remote records (one pipelined batch) into their
 *       pages, verifying each; promote the leading ones that verified (nothing after a gap is
 *       served) and drop the rest.</li>
 *   <li>Copy every loaded chunk into the paged caches, and close the leases.</li>
 * </ol>
 */
final class RetrieveOperation extends RequestOperation {
    private static final Logger LOG = LoggerFactory.getLogger(CacheEngine.REQUEST_LOGGER);

    private enum Source { CPU, DISK, REMOTE }

    /** A chunk to copy into the paged caches; disk and remote ones must be read into their page first. */
    private record Load(ChunkEntry entry, int from, int to, PageLease lease, Source source) {
    }

    private boolean outOfPages;

    RetrieveOperation(CacheEngine engine, KeyScope scope, int[] tokens, long[] slots, int skipLeading,
                      CudaStream stream) {
        super(engine, scope, tokens, slots, skipLeading, stream);
    }

    int run() {
        CacheEngine.Registered registered = validated();
        PagedCaches caches = registered.caches();
        long start = engine.ticker().nanos();
        ChunkKey[] keys = engine.hasher().keys(scope, tokens);
        int first = skipLeading / chunkSize;
        List<Load> loads = new ArrayList<>(engine.locked(() -> planLocal(keys, first)));
        int loaded = 0;
        int[] bySource = new int[Source.values().length];
        long bytes = 0;
        int usable = 0;
        boolean settled = false;
        boolean handedOver = false;
        try {
            int next = first + loads.size();
            if (engine.remote().enabled() && !outOfPages && next < keys.length) {
                int held = engine.remote().leadingPresent(Arrays.asList(keys).subList(next, keys.length));
                if (held > 0) {
                    loads.addAll(engine.locked(() -> planRemote(keys, next, held)));
                }
            }
            int hitTokens = loads.isEmpty() ? 0 : loads.getLast().to - skipLeading;
            if (hitTokens >= engine.config().minRetrieveTokens()) {
                usable = readLowerTiers(loads);
            }
            int verified = usable;
            engine.locked(() -> settle(loads, verified));
            settled = true;
            if (usable > 0) {
                List<Load> copied = loads.subList(0, usable);
                TransferBatch batch = registered.transfer().begin(caches, slots, stream);
                for (Load l : copied) {
                    batch.scatter(l.lease.segment(), l.from, l.to);
                    loaded += l.to - l.from;
                    bySource[l.source.ordinal()] += l.to - l.from;
                    bytes += engine.layout().chunkBytes(l.to - l.from);
                }
                // The pages stay leased until the copies that read them have landed.
                batch.finish(failure -> {
                    copied.forEach(l -> l.lease.close());
                    if (failure != null) {
                        LOG.error("loading {} chunks into the KV caches failed on the device: {}", copied.size(),
                                failure.toString());
                    }
                });
                handedOver = true;
                loads.subList(usable, loads.size()).forEach(l -> l.lease.close());
            }
        } finally {
            if (!settled) {
                engine.locked(() -> settle(loads, 0)); // something threw: nothing of this request is published
            }
            if (!handedOver) {
                loads.forEach(l -> l.lease.close());
            }
        }
        EngineCounters counters = engine.counters();
        counters.retrieveRequests.increment();
        counters.requestedTokens.add(tokens.length - skipLeading);
        counters.retrievedTokens.add(loaded);
        counters.diskHitTokens.add(bySource[Source.DISK.ordinal()]);
        counters.remoteHitTokens.add(bySource[Source.REMOTE.ordinal()]);
        engine.metrics().retrieve(tokens.length - skipLeading, loaded, bytes, engine.ticker().nanos() - start);
        LOG.debug("retrieved {} of {} tokens (skipped {}; {} from disk, {} from remote)", loaded, tokens.length,
                skipLeading, bySource[Source.DISK.ordinal()], bySource[Source.REMOTE.ordinal()]);
        return loaded;
    }

    /** Caller holds the index lock: the CPU tier's leading chunks, then the disk tier's. */
    private List<Load> planLocal(ChunkKey[] keys, int first) {
        List<ChunkEntry> hits = engine.leadingHits(keys, tokens, first);
        List<Load> loads = new ArrayList<>();
        int c = first;
        for (ChunkEntry e : hits) {
            loads.add(new Load(e, c * chunkSize, engine.endOf(c, tokens.length), engine.pool().lease(e.page), Source.CPU));
            engine.trace().record(c, keys[c], e.tokenCount(), AccessTrace.Kind.RETRIEVE);
            c++;
        }
        for (; c < keys.length; c++) {
            int from = c * chunkSize;
            int to = engine.endOf(c, tokens.length);
            if (engine.index().get(keys[c]) != null) {
                break; // being loaded or stored by a concurrent request, not yet published
            }
            if (!engine.disk().contains(keys[c], to - from) || !engine.disk().beginRead(keys[c])) {
                break;
            }
            Load load = newEntry(keys, c, Source.DISK);
            if (load == null) {
                engine.disk().endRead(keys[c]);
                break;
            }
            load.entry.onDisk = true;
            loads.add(load);
        }
        List<ChunkEntry> touched = new ArrayList<>(loads.size());
        loads.forEach(l -> touched.add(l.entry));
        engine.used(touched, false);
        return loads;
    }

    /** Caller holds the index lock: pages for the {@code held} chunks from {@code next} that the remote tier holds. */
    private List<Load> planRemote(ChunkKey[] keys, int next, int held) {
        List<Load> loads = new ArrayList<>();
        for (int c = next; c < next + held; c++) {
            if (engine.index().get(keys[c]) != null) {
                break; // stored meanwhile by a concurrent request: the next retrieve finds it in memory
            }
            Load load = newEntry(keys, c, Source.REMOTE);
            if (load == null) {
                break;
            }
            loads.add(load);
        }
        return loads;
    }

    /** A page and an unpublished index entry for chunk {@code c}, or null when no page can be had. */
    private Load newEntry(ChunkKey[] keys, int c, Source source) {
        int page = engine.allocatePage();
        if (page < 0) {
            outOfPages = true;
            return null;
        }
        int from = c * chunkSize;
        int to = engine.endOf(c, tokens.length);
        ChunkKey parent = parentOf(keys, c);
        ChunkEntry entry = new ChunkEntry(keys[c], parent, page, tokens, from, to);
        engine.index().add(entry);
        return new Load(entry, from, to, engine.pool().lease(page), source);
    }

    /**
     * Reads the disk chunks (in parallel) and the remote ones (one batch); returns how many loads,
     * from the first, are usable (in memory, or read and verified).
     */
    private int readLowerTiers(List<Load> loads) {
        List<CompletableFuture<Boolean>> reads = new ArrayList<>(loads.size());
        List<RemoteTier.Read> remoteReads = new ArrayList<>();
        for (Load l : loads) {
            switch (l.source) {
                case CPU -> reads.add(CompletableFuture.completedFuture(true));
                case DISK -> reads.add(CompletableFuture.supplyAsync(() -> engine.disk().read(l.entry.key, tokens,
                        l.from, l.to, chunkOf(l)), engine.disk().readIo()));
                case REMOTE -> remoteReads.add(new RemoteTier.Read(l.entry.key, tokens, l.from, l.to, chunkOf(l)));
            }
        }
        int remoteGood = engine.remote().read(remoteReads);
        // Every read has ended before anything is decided: no I/O may still write into a page
        // that is about to be freed. (A disk read never throws; it answers false.)
        List<Boolean> local = reads.stream().map(CompletableFuture::join).toList();
        // Loads are in prefix order: CPU, then disk, then remote; the first failure ends the prefix.
        int usable = 0;
        for (Load l : loads) {
            boolean ok = l.source == Source.REMOTE ? usable - local.size() < remoteGood : local.get(usable);
            if (!ok) {
                break;
            }
            usable++;
        }
        return usable;
    }

    /**
     * Caller holds the index lock: publishes the lower-tier loads before {@code verified} (their
     * bytes are in their pages and checked), forgets the others, and ends the disk reads.
     */
    private Void settle(List<Load> loads, int verified) {
        for (int i = 0; i < loads.size(); i++) {
            Load l = loads.get(i);
            if (l.source == Source.CPU) {
                continue;
            }
            if (l.source == Source.DISK) {
                engine.disk().endRead(l.entry.key);
            }
            if (i < verified) {
                engine.index().publish(l.entry);
                // Promoted into the CPU tier: for its eviction policy (and a trace of it), a new chunk.
                engine.trace().record(l.from / chunkSize, l.entry.key, l.to - l.from, AccessTrace.Kind.STORE);
            } else if (engine.index().remove(l.entry)) {
                engine.pool().release(l.entry.page);
            }
        }
        return null;
    }

    private java.lang.foreign.MemorySegment chunkOf(Load l) {
        return l.lease.segment().asSlice(0, engine.layout().chunkBytes(l.to - l.from));
    }
}
