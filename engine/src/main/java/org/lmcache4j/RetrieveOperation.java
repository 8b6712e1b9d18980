package org.lmcache4j;

import org.lmcache4j.PrefixLoad.Load;
import org.lmcache4j.PrefixLoad.Source;
import org.lmcache4j.keys.ChunkKey;
import org.lmcache4j.transfer.PagedCaches;
import org.lmcache4j.transfer.TransferBatch;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.List;

/**
 * One {@link CacheEngine#retrieve}: the prefix is brought into the CPU pool down the tiers
 * ({@link PrefixLoad}: CPU hits leased, disk and remote chunks read, verified and promoted), then
 * every usable chunk is copied into the paged caches and its lease closed once the copy landed.
 */
final class RetrieveOperation extends RequestOperation {
    private static final Logger LOG = LoggerFactory.getLogger(CacheEngine.REQUEST_LOGGER);

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
        PrefixLoad prefix = new PrefixLoad(engine, scope, tokens, keys, first, true);
        List<Load> loads = prefix.loads();
        int loaded = 0;
        int[] bySource = new int[Source.values().length];
        long bytes = 0;
        int usable = 0;
        boolean settled = false;
        boolean handedOver = false;
        try {
            prefix.planLocal();
            prefix.planRemote();
            if (prefix.endOf(loads.size()) - skipLeading >= engine.config().minRetrieveTokens()) {
                usable = prefix.read();
            }
            int verified = usable;
            engine.locked(() -> prefix.settle(verified));
            settled = true;
            if (usable > 0) {
                List<Load> copied = loads.subList(0, usable);
                TransferBatch batch = registered.transfer().begin(caches, slots, stream);
                for (Load l : copied) {
                    batch.scatter(l.lease().segment(), l.from(), l.to());
                    loaded += l.to() - l.from();
                    bySource[l.source().ordinal()] += l.to() - l.from();
                    bytes += engine.layout().chunkBytes(l.to() - l.from());
                }
                // The pages stay leased until the copies that read them have landed.
                batch.finish(failure -> {
                    copied.forEach(l -> l.lease().close());
                    if (failure != null) {
                        LOG.error("loading {} chunks into the KV caches failed on the device: {}", copied.size(),
                                failure.toString());
                    }
                });
                handedOver = true;
                prefix.closeLeases(usable);
            }
        } finally {
            if (!settled) {
                engine.locked(() -> prefix.settle(0)); // something threw: nothing of this request is published
            }
            if (!handedOver) {
                prefix.closeLeases(0);
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
}
