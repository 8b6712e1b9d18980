package org.lmcache4j;

import org.lmcache4j.keys.ChunkKey;

/**
 * What a store and a retrieve share: the request's arguments, their validation, and how a chunk's
 * parent key is found. Each operation runs once, on the caller's thread.
 */
abstract sealed class RequestOperation permits StoreOperation, RetrieveOperation {
    final CacheEngine engine;
    final KeyScope scope;
    final int[] tokens;
    final long[] slots;
    final int skipLeading;
    final int chunkSize;
    final CudaStream stream;

    RequestOperation(CacheEngine engine, KeyScope scope, int[] tokens, long[] slots, int skipLeading,
                     CudaStream stream) {
        this.engine = engine;
        this.scope = scope;
        this.tokens = tokens;
        this.slots = slots;
        this.skipLeading = skipLeading;
        this.chunkSize = engine.config().chunkSize();
        this.stream = java.util.Objects.requireNonNull(stream, "stream");
    }

    /**
     * The registered caches and their transfer, once the arguments are known good (nothing has
     * changed yet if they are not).
     */
    CacheEngine.Registered validated() {
        CacheEngine.Registered registered = engine.requireCaches();
        RequestCheck.transfer(tokens, slots, skipLeading, chunkSize, engine.layout().numSlots());
        registered.transfer().checkStream(stream);
        return registered;
    }

    /** The key chunk {@code c} chains from: the previous chunk's, or the scope's root for chunk 0. */
    ChunkKey parentOf(ChunkKey[] keys, int c) {
        return c == 0 ? engine.hasher().root(scope) : keys[c - 1];
    }
}
