package org.lmcache4j;

import org.lmcache4j.memory.PoolStats;

import java.util.concurrent.atomic.LongAdder;

/** The counters every engine keeps, metrics or not: the source of {@link EngineStats}. */
final class EngineCounters {
    final LongAdder evictions = new LongAdder();
    final LongAdder storeSkippedChunks = new LongAdder();
    final LongAdder storeDeclinedChunks = new LongAdder();
    final LongAdder forcedUnpins = new LongAdder();
    final LongAdder lookupRequests = new LongAdder();
    final LongAdder lookupTokens = new LongAdder();
    final LongAdder lookupHitTokens = new LongAdder();
    final LongAdder storeRequests = new LongAdder();
    final LongAdder storedTokens = new LongAdder();
    final LongAdder retrieveRequests = new LongAdder();
    final LongAdder requestedTokens = new LongAdder();
    final LongAdder retrievedTokens = new LongAdder();
    final LongAdder diskHitTokens = new LongAdder();
    final LongAdder remoteHitTokens = new LongAdder();

    EngineStats snapshot(long chunks, long pins, PoolStats pool, long spilledChunks, long writeThroughSkipped,
                         DiskStats disk, RemoteStats remote, PrefetchStats prefetch) {
        return new EngineStats(chunks, pool.pagesInUse(), pool.capacityPages(), pool.usedBytes(),
                pool.capacityBytes(), pool.mappedBytes(), pool.leases(), pins, evictions.sum(),
                storeSkippedChunks.sum(), forcedUnpins.sum(), lookupRequests.sum(), lookupTokens.sum(),
                lookupHitTokens.sum(), storeRequests.sum(), storedTokens.sum(), retrieveRequests.sum(),
                requestedTokens.sum(), retrievedTokens.sum(), pool.growthWaitNanos(), diskHitTokens.sum(),
                spilledChunks, disk, remoteHitTokens.sum(), remote, writeThroughSkipped, storeDeclinedChunks.sum(),
                prefetch);
    }
}
