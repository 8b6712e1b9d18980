package org.lmcache4j;

/**
 * What the engine's prefetches ({@link CacheEngine#prefetch}) did since it opened.
 *
 * @param requests     prefetches started
 * @param cancelled    prefetches cancelled before they finished (by the caller or the engine's close)
 * @param failed       prefetches ended by an unexpected error
 * @param diskTokens   tokens prefetches read from the disk tier into the pool
 * @param remoteTokens tokens prefetches read from the remote tier into the pool
 * @param inFlight     prefetches queued or running now
 * @param finishedOpen prefetches that have finished and whose handles are not closed yet
 */
public record PrefetchStats(long requests, long cancelled, long failed, long diskTokens, long remoteTokens,
                            long inFlight, long finishedOpen) {
}
