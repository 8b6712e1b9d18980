package org.lmcache4j.bench.model;

import org.lmcache4j.CacheEngine;
import org.lmcache4j.EngineStats;
import org.lmcache4j.KeyScope;

/**
 * Today's connector: the step that schedules a request looks up and pins its cached prefix and
 * retrieves it, from whichever tier holds it, before the step's forward pass; every request of
 * the batch waits for the disk or Redis read.
 */
final class SyncLoading implements LoadingStrategy {
    private final CacheEngine engine;

    SyncLoading(CacheEngine engine) {
        this.engine = engine;
    }

    @Override
    public String name() {
        return "sync";
    }

    @Override
    public KvLoad begin(String requestId, int[] prompt, long[] slots) {
        EngineStats before = engine.stats();
        int loaded = 0;
        try {
            if (engine.lookupAndPin(requestId, KeyScope.NONE, prompt) > 0) {
                loaded = AsyncLoading.retrieve(engine, prompt, slots);
            }
        } finally {
            engine.unpin(requestId);
        }
        EngineStats after = engine.stats();
        boolean belowPool = after.diskHitTokens() + after.remoteHitTokens()
                > before.diskHitTokens() + before.remoteHitTokens();
        return new Landed(loaded, belowPool, System.nanoTime());
    }

    /** A load that had finished when {@link #begin} returned. */
    record Landed(int loadedTokens, boolean belowPool, long landedAtNanos) implements KvLoad {
        public boolean landed() { return true; }
        public void abort() { }
        public boolean settled() { return true; }
        public void awaitSettled() { }
    }
}
