package org.lmcache4j;

import java.util.List;
import java.util.Map;

/**
 * A snapshot of the remote tier; {@link #NONE} when the engine has none.
 *
 * @param enabled        whether {@code remote_url} names a tier
 * @param url            the URL, without its password
 * @param healthy        whether the tier is usable: false from a transport failure (timeout, refused or
 *                       reset connection) until a probe reconnects; an error reply leaves it true
 * @param lookups        batched existence queries
 * @param reads          records read and verified
 * @param readBytes      bytes of those records
 * @param readNanos      time from sending the reads of a request to verifying them, summed
 * @param readFailures   records that failed verification, were missing, were refused, or timed out (misses)
 * @param writes         records written
 * @param writeBytes     bytes written
 * @param writeNanos     time of the writes, summed
 * @param writesDropped  writes not made: too many in flight, the tier unhealthy, failed, or refused by
 *                       Redis (those are also in {@code writeRefusals})
 * @param errors         operations that failed on the connection (timeouts, refused, reset)
 * @param healthChanges  times the tier went down or came back
 * @param writeRefusals  writes Redis answered with an error reply, by reason ({@link #REFUSAL_REASONS}):
 *                       oom, readonly, auth (NOAUTH, WRONGPASS), misconf, other
 * @param serverUsedBytes the Redis server's own {@code used_memory} (a cluster: summed over its masters)
 *                       at the last poll (every 10 s, in the background); the whole server's memory,
 *                       other data and Redis's overhead included, not only this engine's records
 */
public record RemoteStats(boolean enabled, String url, boolean healthy, long lookups, long reads, long readBytes,
                          long readNanos, long readFailures, long writes, long writeBytes, long writeNanos,
                          long writesDropped, long errors, long healthChanges, Map<String, Long> writeRefusals,
                          long serverUsedBytes) {

    /** The {@code reason} tags of {@code lmcache:remote_write_refusals}, the keys of {@link #writeRefusals}. */
    public static final List<String> REFUSAL_REASONS = List.of("oom", "readonly", "auth", "misconf", "other");

    public static final RemoteStats NONE = new RemoteStats(false, "", false, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, Map.of(), 0);

    public RemoteStats {
        writeRefusals = Map.copyOf(writeRefusals);
    }

    /** Writes refused by Redis, whatever the reason. */
    public long writesRefused() {
        return writeRefusals.values().stream().mapToLong(Long::longValue).sum();
    }

    /** Writes refused for {@code reason} (one of {@link #REFUSAL_REASONS}). */
    public long writesRefused(String reason) {
        return writeRefusals.getOrDefault(reason, 0L);
    }
}
