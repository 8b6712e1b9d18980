package org.lmcache4j;

/**
 * A snapshot of the engine's state and counters since it opened.
 *
 * @param chunks             chunks in the CPU tier (published or being written)
 * @param pagesInUse         pool pages in use
 * @param capacityPages      pool pages the configured size allows
 * @param usedBytes          bytes of the pages in use
 * @param capacityBytes      the pool's configured size in bytes
 * @param mappedBytes        bytes of pool slabs mapped so far
 * @param leases             open page leases (copies in flight and pins)
 * @param pins               chunks pinned by lookups and not yet retrieved, unpinned or expired
 * @param evictions          chunks evicted from the CPU tier
 * @param storeSkippedChunks chunks not stored because nothing could be evicted
 * @param forcedUnpins       pins released by expiry ({@code pin_timeout_sec})
 * @param lookupRequests     lookups
 * @param lookupTokens       tokens asked about by lookups
 * @param lookupHitTokens    tokens lookups found
 * @param storeRequests      stores
 * @param storedTokens       tokens written into the pool
 * @param retrieveRequests   retrieves
 * @param requestedTokens    tokens retrieves asked for (beyond their skipped prefix)
 * @param retrievedTokens    tokens retrieves loaded
 * @param poolGrowthWaitNanos time stores waited for the pool to fault in its next slab
 * @param diskHitTokens      tokens retrieves loaded from the disk tier
 * @param spilledChunks      chunks written to the disk tier (spilled or written through)
 * @param disk               the disk tier, {@link DiskStats#NONE} without one
 * @param remoteHitTokens    tokens retrieves loaded from the remote tier
 * @param remote             the remote tier, {@link RemoteStats#NONE} without one
 * @param writeThroughSkipped chunks {@code disk_write_through} left to write-behind: too many waited
 * @param storeDeclinedChunks chunks not stored because the eviction policy kept what it had (a new
 *                           chunk that would rank below every victim: MRU on a full pool, ADAPTIVE)
 * @param prefetch           what {@link CacheEngine#prefetch} did
 */
public record EngineStats(long chunks, long pagesInUse, long capacityPages, long usedBytes, long capacityBytes,
                          long mappedBytes, long leases, long pins, long evictions, long storeSkippedChunks,
                          long forcedUnpins, long lookupRequests, long lookupTokens, long lookupHitTokens,
                          long storeRequests, long storedTokens, long retrieveRequests, long requestedTokens,
                          long retrievedTokens, long poolGrowthWaitNanos, long diskHitTokens,
                          long spilledChunks, DiskStats disk, long remoteHitTokens, RemoteStats remote,
                          long writeThroughSkipped, long storeDeclinedChunks, PrefetchStats prefetch) {

    /** Retrieved over requested tokens; 0 before any retrieve. */
    public double retrieveHitRate() {
        return requestedTokens == 0 ? 0.0 : (double) retrievedTokens / requestedTokens;
    }

    /** Found over asked-about tokens; 0 before any lookup. */
    public double lookupHitRate() {
        return lookupTokens == 0 ? 0.0 : (double) lookupHitTokens / lookupTokens;
    }

    /** Fraction of the pool in use. */
    public double poolUsage() {
        return capacityPages == 0 ? 0.0 : (double) pagesInUse / capacityPages;
    }
}
