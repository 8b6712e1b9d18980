package org.lmcache4j;

import org.lmcache4j.keys.ChunkKey;
import org.lmcache4j.memory.PageLease;
import org.lmcache4j.remote.RemoteTier;

import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CompletableFuture;

/**
 * A prompt's leading chunks, from chunk {@code first}, brought into the CPU pool from whichever
 * tier holds them: what a {@link RetrieveOperation} and a {@link PrefetchOperation} share.
 * <ol>
 *   <li>{@link #planLocal()}, under the index lock: lease the leading chunks the CPU tier holds;
 *       for the chunks after them that the disk tier holds, take a page each and index an
 *       unpublished entry.</li>
 *   <li>{@link #planRemote()}, outside it: ask the remote tier, in one batch, how many of the
 *       chunks after those it holds; take pages for them under the lock again.</li>
 *   <li>{@link #read()}: read the disk records (in parallel) and the remote records (one pipelined
 *       batch) into their pages, verifying each; the answer is how many loads, from the first,
 *       are usable (nothing after a gap is).</li>
 *   <li>{@link #settle(int)}, under the index lock: publish the lower-tier loads that verified,
 *       exactly as a promoted chunk, and forget the others.</li>
 * </ol>
 * Every load holds a lease on its page until its owner closes it ({@link Load#lease()}): the
 * owner decides when, a retrieve once its copies have landed, a prefetch at once.
 */
final class PrefixLoad {
    enum Source { CPU, DISK, REMOTE }

    /** A chunk of the prefix; disk and remote ones must be read into their page first. */
    record Load(ChunkEntry entry, int from, int to, PageLease lease, Source source) {
    }

    private final CacheEngine engine;
    private final KeyScope scope;
    private final int[] tokens;
    private final ChunkKey[] keys;
    private final int first;
    private final int chunkSize;
    /** Whether the CPU tier's hits are recorded in the access trace as a retrieve's. */
    private final boolean traceHits;
    private final List<Load> loads = new ArrayList<>();
    private boolean outOfPages;

    PrefixLoad(CacheEngine engine, KeyScope scope, int[] tokens, ChunkKey[] keys, int first, boolean traceHits) {
        this.engine = engine;
        this.scope = scope;
        this.tokens = tokens;
        this.keys = keys;
        this.first = first;
        this.chunkSize = engine.config().chunkSize();
        this.traceHits = traceHits;
    }

    /** The loads planned so far, in prefix order: CPU, then disk, then remote. */
    List<Load> loads() {
        return loads;
    }

    /** Tokens from the first planned chunk to the end of load {@code count - 1}; 0 for none. */
    int endOf(int count) {
        return count == 0 ? first * chunkSize : loads.get(count - 1).to;
    }

    /** How many leading loads the CPU tier already held. */
    int cpuHits() {
        int n = 0;
        while (n < loads.size() && loads.get(n).source == Source.CPU) {
            n++;
        }
        return n;
    }

    void planLocal() {
        engine.locked(this::planLocalLocked);
    }

    /**
     * Whether a chunk of the prefix, after the published ones it starts with, is being loaded or
     * stored by another request right now (indexed, not yet published): planning would stop there.
     */
    boolean concurrentlyLoaded() {
        return engine.locked(() -> {
            for (int c = first; c < keys.length; c++) {
                ChunkEntry e = engine.index().get(keys[c]);
                if (e == null) {
                    return false;
                }
                if (!e.published()) {
                    return true;
                }
            }
            return false;
        });
    }

    /** Caller holds the index lock: the CPU tier's leading chunks, then the disk tier's. */
    private Void planLocalLocked() {
        List<ChunkEntry> hits = engine.leadingHits(keys, tokens, first);
        int c = first;
        for (ChunkEntry e : hits) {
            loads.add(new Load(e, c * chunkSize, engine.endOf(c, tokens.length), engine.pool().lease(e.page), Source.CPU));
            if (traceHits) {
                engine.trace().record(c, keys[c], e.tokenCount(), AccessTrace.Kind.RETRIEVE);
            }
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
            Load load = newEntry(c, Source.DISK);
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
        return null;
    }

    /** Asks the remote tier about the chunks after the local ones (a network round trip), and takes pages for those it holds. */
    void planRemote() {
        int next = first + loads.size();
        if (!engine.remote().enabled() || outOfPages || next >= keys.length) {
            return;
        }
        int held = engine.remote().leadingPresent(Arrays.asList(keys).subList(next, keys.length));
        if (held > 0) {
            engine.locked(() -> planRemoteLocked(next, held));
        }
    }

    /** Caller holds the index lock: pages for the {@code held} chunks from {@code next} that the remote tier holds. */
    private Void planRemoteLocked(int next, int held) {
        for (int c = next; c < next + held; c++) {
            if (engine.index().get(keys[c]) != null) {
                break; // stored meanwhile by a concurrent request: the next retrieve finds it in memory
            }
            Load load = newEntry(c, Source.REMOTE);
            if (load == null) {
                break;
            }
            loads.add(load);
        }
        return null;
    }

    /** A page and an unpublished index entry for chunk {@code c}, or null when no page can be had. */
    private Load newEntry(int c, Source source) {
        int page = engine.allocatePage();
        if (page < 0) {
            outOfPages = true;
            return null;
        }
        int from = c * chunkSize;
        int to = engine.endOf(c, tokens.length);
        ChunkKey parent = c == 0 ? engine.hasher().root(scope) : keys[c - 1];
        ChunkEntry entry = new ChunkEntry(keys[c], parent, page, tokens, from, to);
        engine.index().add(entry);
        return new Load(entry, from, to, engine.pool().lease(page), source);
    }

    /**
     * Reads the disk chunks (in parallel) and the remote ones (one batch); returns how many loads,
     * from the first, are usable (in memory, or read and verified).
     */
    int read() {
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
    Void settle(int verified) {
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

    /** Closes the lease of every load from {@code from} on. */
    void closeLeases(int from) {
        loads.subList(from, loads.size()).forEach(l -> l.lease.close());
    }

    private MemorySegment chunkOf(Load l) {
        return l.lease.segment().asSlice(0, engine.layout().chunkBytes(l.to - l.from));
    }
}
