package org.lmcache4j;

import org.lmcache4j.keys.ChunkKey;
import org.lmcache4j.memory.PageLease;
import org.lmcache4j.transfer.PagedCaches;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.ArrayList;
import java.util.List;

/**
 * One {@link CacheEngine#retrieve}: find and lease the leading hit chunks under the index lock,
 * copy them into the paged caches outside it, release the leases.
 */
final class RetrieveOperation {
    private static final Logger LOG = LoggerFactory.getLogger(CacheEngine.REQUEST_LOGGER);

    private record Load(int from, int to, PageLease lease) {
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
        long bytes = 0;
        try {
            for (Load l : loads) {
                engine.transfer().scatter(l.lease.segment(), caches, slots, l.from, l.to);
                loaded += l.to - l.from;
                bytes += engine.layout().chunkBytes(l.to - l.from);
            }
        } finally {
            loads.forEach(l -> l.lease.close());
        }
        EngineCounters counters = engine.counters();
        counters.retrieveRequests.increment();
        counters.requestedTokens.add(tokens.length - skipLeading);
        counters.retrievedTokens.add(loaded);
        engine.metrics().retrieve(tokens.length - skipLeading, loaded, bytes, engine.ticker().nanos() - start);
        LOG.debug("retrieved {} of {} tokens (skipped {})", loaded, tokens.length, skipLeading);
        return loaded;
    }

    /** Caller holds the index lock. */
    private List<Load> plan(ChunkKey[] keys) {
        int first = skipLeading / chunkSize;
        List<ChunkEntry> hits = engine.leadingHits(keys, tokens, first);
        int hitTokens = hits.isEmpty() ? 0 : engine.endOf(first + hits.size() - 1, tokens.length) - skipLeading;
        if (hitTokens < engine.config().minRetrieveTokens()) {
            return List.of();
        }
        engine.touchReversed(hits);
        List<Load> loads = new ArrayList<>(hits.size());
        for (int i = 0; i < hits.size(); i++) {
            int c = first + i;
            loads.add(new Load(c * chunkSize, engine.endOf(c, tokens.length), engine.pool().lease(hits.get(i).page)));
        }
        return loads;
    }
}
