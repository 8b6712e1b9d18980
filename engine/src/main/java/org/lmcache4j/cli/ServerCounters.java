package org.lmcache4j.cli;

/**
 * What a replay against {@code lmcache4j server} made of the server's counters: the fields of
 * {@code lmcache4j_engine_stats} (STATS, in its order) and the disk tier's hit tokens (from the
 * metrics text). A counter's share is its growth over each connection, summed: a restarted
 * server counts from 0 again, and what a server counted before it died unseen is lost. A gauge
 * (chunks, pages, leases, pins) is its value at the last answer.
 */
final class ServerCounters {
    static final int CHUNKS = 0;
    static final int CAPACITY_PAGES = 2;
    static final int USED_BYTES = 3;
    static final int CAPACITY_BYTES = 4;
    static final int LEASES = 6;
    static final int PINS = 7;
    static final int EVICTIONS = 8;
    static final int STORE_SKIPPED_CHUNKS = 9;
    static final int POOL_GROWTH_WAIT_NANOS = 19;
    private static final int FIELDS = 20;
    private static final String DISK_HIT_TOKENS = "lmcache:disk_hit_tokens_total";

    private long[] atConnect = new long[FIELDS];
    private long[] last = new long[FIELDS];
    private final long[] earlierConnections = new long[FIELDS];
    private long diskAtConnect;
    private long diskLast;
    private long diskEarlier;

    /** A new connection's first answers. */
    void connected(long[] stats, long diskHitTokens) {
        atConnect = fields(stats);
        last = atConnect;
        diskAtConnect = diskHitTokens;
        diskLast = diskHitTokens;
    }

    void stats(long[] stats) {
        last = fields(stats);
    }

    void diskHits(long diskHitTokens) {
        diskLast = diskHitTokens;
    }

    /** The connection is gone: what it grew by is kept, its gauges stay as it last said. */
    void disconnected() {
        for (int f = 0; f < FIELDS; f++) {
            earlierConnections[f] += last[f] - atConnect[f];
        }
        atConnect = last;
        diskEarlier += diskLast - diskAtConnect;
        diskAtConnect = diskLast;
    }

    /** How much a counter grew over this run's connections. */
    long grown(int field) {
        return earlierConnections[field] + last[field] - atConnect[field];
    }

    /** A gauge as the server last said. */
    long last(int field) {
        return last[field];
    }

    long diskHitTokens() {
        return diskEarlier + diskLast - diskAtConnect;
    }

    /** The sum of the {@code lmcache:disk_hit_tokens} samples in a Prometheus text (0 with no disk tier). */
    static long diskHitTokens(String metricsText) {
        long sum = 0;
        for (String line : metricsText.lines().toList()) {
            if (line.startsWith(DISK_HIT_TOKENS + "{") || line.startsWith(DISK_HIT_TOKENS + " ")) {
                sum += (long) Double.parseDouble(line.substring(line.lastIndexOf(' ') + 1));
            }
        }
        return sum;
    }

    private static long[] fields(long[] stats) {
        if (stats.length < FIELDS) {
            throw new IllegalStateException("the server's STATS has " + stats.length + " fields, fewer than "
                    + FIELDS);
        }
        return java.util.Arrays.copyOf(stats, FIELDS);
    }
}
