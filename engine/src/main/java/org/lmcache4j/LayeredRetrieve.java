package org.lmcache4j;

import org.lmcache4j.PrefixLoad.Load;
import org.lmcache4j.transfer.TransferBatch;

import java.util.List;

/**
 * A retrieve that copies one layer at a time: {@link CacheEngine#retrieveLayers} brings the
 * cached prefix into the pool (from disk and Redis too, verified, as a whole-chunk retrieve does)
 * and leases its chunks, then {@link #loadLayer(int)} copies layer i of every chunk into the
 * paged caches, so that the serving engine can compute layer i while layer i+1 is copied. The
 * leases close once the last copies have landed, or once it is given up part way; the caches then
 * hold the prefix's KV only for the layers copied, and the caller must recompute it.
 */
public final class LayeredRetrieve extends LayeredOperation {
    private final RetrieveOperation retrieve;
    private final List<Load> loads;
    private final int tokens;

    private LayeredRetrieve(CacheEngine engine, CacheEngine.Registered registered, RetrieveOperation retrieve,
                            List<Load> loads) {
        super(engine, registered, retrieve);
        this.retrieve = retrieve;
        this.loads = loads;
        int n = 0;
        for (Load l : loads) {
            n += l.to() - l.from();
        }
        this.tokens = n;
    }

    /** Validates and loads the prefix into the pool, under the caller's guard; the arrays are copied. */
    static LayeredRetrieve start(CacheEngine engine, KeyScope scope, int[] tokens, long[] slots, int skipLeading,
                                 CudaStream stream) {
        RetrieveOperation op = new RetrieveOperation(engine, scope, tokens == null ? null : tokens.clone(),
                slots == null ? null : slots.clone(), skipLeading, stream);
        CacheEngine.Registered registered = op.validated();
        return new LayeredRetrieve(engine, registered, op, op.loadPrefix());
    }

    /** The tokens in the caches once every layer is loaded, after the first {@code skipLeading} (what {@code retrieve} returns). */
    public int tokens() {
        return tokens;
    }

    /** Copies layer {@code layer} (the {@link #nextLayer()}) of every chunk of the prefix into the caches. */
    public void loadLayer(int layer) {
        copy(layer);
    }

    @Override
    void copyLayer(TransferBatch batch) {
        for (Load l : loads) {
            batch.scatter(l.lease().segment(), l.from(), l.to());
        }
    }

    @Override
    boolean hasChunks() {
        return !loads.isEmpty();
    }

    @Override
    void end(boolean complete) {
        loads.forEach(l -> l.lease().close());
        retrieve.count(complete ? loads : List.of());
    }

    @Override
    String what() {
        return "layer-by-layer retrieve";
    }
}
