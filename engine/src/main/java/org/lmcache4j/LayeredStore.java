package org.lmcache4j;

import org.lmcache4j.transfer.TransferBatch;

import java.util.List;

/**
 * A store that copies one layer at a time: {@link CacheEngine#storeLayers} plans it (which chunks
 * are new; a page, a lease and an unpublished index entry for each, as a whole-chunk store
 * plans), then {@link #saveLayer(int)} copies layer i of every planned chunk out of the paged
 * caches as the serving engine finishes computing it. A chunk is published only once every
 * layer of it has landed; a store given up part way (closed early, a layer copy failing, the
 * caches registered anew, the engine closed) publishes nothing and releases every page it took.
 */
public final class LayeredStore extends LayeredOperation {
    private final StoreOperation store;
    private final List<StoreOperation.Pending> pending;
    private final int tokens;

    private LayeredStore(CacheEngine engine, CacheEngine.Registered registered, StoreOperation store,
                         List<StoreOperation.Pending> pending) {
        super(engine, registered, store);
        this.store = store;
        this.pending = pending;
        int n = 0;
        for (StoreOperation.Pending p : pending) {
            n += p.to() - p.from();
        }
        this.tokens = n;
    }

    /** Validates and plans, under the caller's guard; the arrays are copied (layers are copied later). */
    static LayeredStore start(CacheEngine engine, KeyScope scope, int[] tokens, long[] slots, int skipLeading,
                              CudaStream stream) {
        StoreOperation op = new StoreOperation(engine, scope, tokens == null ? null : tokens.clone(),
                slots == null ? null : slots.clone(), skipLeading, stream);
        CacheEngine.Registered registered = op.validated();
        return new LayeredStore(engine, registered, op, op.planStore());
    }

    /** The tokens this store will publish once every layer has landed (what {@code store} returns). */
    public int tokens() {
        return tokens;
    }

    /** Copies layer {@code layer} (the {@link #nextLayer()}) of every planned chunk out of the caches. */
    public void saveLayer(int layer) {
        copy(layer);
    }

    @Override
    void copyLayer(TransferBatch batch) {
        for (StoreOperation.Pending p : pending) {
            batch.gather(p.from(), p.to(), p.lease().segment());
        }
    }

    @Override
    boolean hasChunks() {
        return !pending.isEmpty();
    }

    @Override
    void end(boolean complete) {
        if (complete) {
            store.landed(pending);
        } else {
            store.drop(pending);
        }
    }

    @Override
    String what() {
        return "layer-by-layer store";
    }
}
