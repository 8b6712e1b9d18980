package org.lmcache4j;

import org.lmcache4j.PrefixLoad.Load;
import org.lmcache4j.PrefixLoad.Source;
import org.lmcache4j.keys.ChunkKey;
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

    private long start;

    RetrieveOperation(CacheEngine engine, KeyScope scope, int[] tokens, long[] slots, int skipLeading,
                      CudaStream stream) {
        super(engine, scope, tokens, slots, skipLeading, stream);
    }

    int run() {
        CacheEngine.Registered registered = validated();
        List<Load> copied = loadPrefix();
        boolean handedOver = copied.isEmpty();
        try {
            if (!copied.isEmpty()) {
                TransferBatch batch = registered.transfer().begin(registered.caches(), slots, stream);
                for (Load l : copied) {
                    batch.scatter(l.lease().segment(), l.from(), l.to());
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
            }
        } finally {
            if (!handedOver) {
                copied.forEach(l -> l.lease().close());
            }
        }
        return count(copied);
    }

    /**
     * Brings the prompt's prefix into the pool down the tiers (the arguments validated) and
     * settles it: returns the usable loads, each still leased for the caller to close once its
     * copies have landed; every other lease is closed, and if this throws nothing is left leased
     * or published. A layer-by-layer retrieve ({@link LayeredRetrieve}) shares it.
     */
    List<Load> loadPrefix() {
        start = engine.ticker().nanos();
        ChunkKey[] keys = engine.hasher().keys(scope, tokens);
        PrefixLoad prefix = new PrefixLoad(engine, scope, tokens, keys, skipLeading / chunkSize, true);
        List<Load> loads = prefix.loads();
        int usable = 0;
        boolean settled = false;
        try {
            prefix.planLocal();
            prefix.planRemote();
            if (prefix.endOf(loads.size()) - skipLeading >= engine.config().minRetrieveTokens()) {
                usable = prefix.read();
            }
            int verified = usable;
            engine.locked(() -> prefix.settle(verified));
            settled = true;
        } catch (RuntimeException | Error e) {
            if (!settled) {
                engine.locked(() -> prefix.settle(0)); // nothing of this request is published
            }
            prefix.closeLeases(0);
            throw e;
        }
        prefix.closeLeases(usable);
        return List.copyOf(loads.subList(0, usable));
    }

    /** Counts the request, {@code loaded} being the chunks that reached the caches; returns their tokens. */
    int count(List<Load> loaded) {
        int tokensLoaded = 0;
        int[] bySource = new int[Source.values().length];
        long bytes = 0;
        for (Load l : loaded) {
            tokensLoaded += l.to() - l.from();
            bySource[l.source().ordinal()] += l.to() - l.from();
            bytes += engine.layout().chunkBytes(l.to() - l.from());
        }
        EngineCounters counters = engine.counters();
        counters.retrieveRequests.increment();
        counters.requestedTokens.add(tokens.length - skipLeading);
        counters.retrievedTokens.add(tokensLoaded);
        counters.diskHitTokens.add(bySource[Source.DISK.ordinal()]);
        counters.remoteHitTokens.add(bySource[Source.REMOTE.ordinal()]);
        engine.metrics().retrieve(tokens.length - skipLeading, tokensLoaded, bytes, engine.ticker().nanos() - start);
        LOG.debug("retrieved {} of {} tokens (skipped {}; {} from disk, {} from remote)", tokensLoaded, tokens.length,
                skipLeading, bySource[Source.DISK.ordinal()], bySource[Source.REMOTE.ordinal()]);
        return tokensLoaded;
    }
}
