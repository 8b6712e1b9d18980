package org.lmcache4j;

/**
 * A snapshot of the remote tier; {@link #NONE} when the engine has none.
 *
 * @param enabled        whether {@code remote_url} names a tier
 * @param url            the URL, without its password
 * @param healthy        whether the last operation succeeded (an unhealthy tier is skipped while it reconnects)
 * @param lookups        batched existence queries
 * @param reads          records read and verified
 * @param readBytes      bytes of those records
 * @param readNanos      time from sending the reads of a request to verifying them, summed
 * @param readFailures   records that failed verification, were missing, or timed out (misses)
 * @param writes         records written
 * @param writeBytes     bytes written
 * @param writeNanos     time of the writes, summed
 * @param writesDropped  writes dropped: too many in flight, or the tier unhealthy
 * @param errors         operations that failed on the connection (timeouts, refused, reset)
 * @param healthChanges  times the tier went down or came back
 */
public record RemoteStats(boolean enabled, String url, boolean healthy, long lookups, long reads, long readBytes,
                          long readNanos, long readFailures, long writes, long writeBytes, long writeNanos,
                          long writesDropped, long errors, long healthChanges) {

    public static final RemoteStats NONE = new RemoteStats(false, "", false, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0);
}
