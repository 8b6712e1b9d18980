package org.lmcache4j.cli;

import org.lmcache4j.CacheEngine;
import org.lmcache4j.CudaStream;
import org.lmcache4j.KeyScope;

/** The replay's calls on an engine in this process. */
record EmbeddedCache(CacheEngine engine) implements ReplayCache {
    @Override
    public void lookupAndPin(String requestId, int[] prompt) {
        engine.lookupAndPin(requestId, KeyScope.NONE, prompt);
    }

    @Override
    public Retrieved retrieve(int[] prompt, long[] slots, CudaStream stream) {
        return new Retrieved(engine.retrieve(KeyScope.NONE, prompt, slots, 0, stream), false);
    }

    @Override
    public void unpin(String requestId) {
        engine.unpin(requestId);
    }

    @Override
    public int store(int[] prompt, long[] slots, CudaStream stream) {
        return engine.store(KeyScope.NONE, prompt, slots, 0, stream);
    }

    @Override
    public void awaitTransfers() {
        engine.awaitTransfers();
    }

    @Override
    public long storeSkippedChunks() {
        return engine.stats().storeSkippedChunks();
    }

    @Override
    public long capacityPages() {
        return engine.stats().capacityPages();
    }

    @Override
    public int chunkSize() {
        return engine.config().chunkSize();
    }
}
