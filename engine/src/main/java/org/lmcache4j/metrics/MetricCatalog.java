package org.lmcache4j.metrics;

import org.lmcache4j.EngineStats;
import org.lmcache4j.RemoteStats;

import java.util.ArrayList;
import java.util.List;

import static org.lmcache4j.metrics.Family.counter;
import static org.lmcache4j.metrics.Family.gauge;
import static org.lmcache4j.metrics.Family.histogram;

/**
 * Every metric an engine exports, in exposition order: first LMCache's, under the names, kinds,
 * gauge modes and histogram buckets of LMCache's {@code PrometheusLogger} (lmcache/observability.py,
 * read December 2026), then LMCache4j's own, named by the same rules. docs/operations.md lists
 * them and the LMCache metrics that are not exported, with the reason.
 */
public final class MetricCatalog {
    static final String PREFIX = "lmcache:";
    private static final String SUM = "sum";
    private static final String LATEST = "livemostrecent";

    /** LMCache's buckets for time_to_retrieve and time_to_store (seconds). */
    static final double[] TRANSFER_SECONDS = {0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75,
            1.0, 2.5, 5.0, 7.5, 10.0};
    /** LMCache's buckets for retrieve_speed and store_speed (tokens per second). */
    static final double[] TOKENS_PER_SECOND = {1, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384,
            32768, 65536};
    /** LMCache's buckets for remote_time_to_get and remote_time_to_put (milliseconds). */
    static final double[] REMOTE_MILLISECONDS = {1, 5, 10, 20, 40, 60, 80, 100, 250, 500, 750, 1000, 2500, 5000, 7500,
            10000};
    /** LMCache's buckets for request_cache_hit_rate. */
    static final double[] HIT_RATES = {0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0};

    public static final Family TIME_TO_RETRIEVE = histogram(PREFIX + "time_to_retrieve",
            "Time to retrieve from lmcache (seconds)", TRANSFER_SECONDS);
    public static final Family TIME_TO_STORE = histogram(PREFIX + "time_to_store",
            "Time to store to lmcache (seconds)", TRANSFER_SECONDS);
    public static final Family TIME_TO_LOOKUP = histogram(PREFIX + "time_to_lookup",
            "Time to lookup in lmcache (seconds)", lookupSeconds());
    public static final Family RETRIEVE_SPEED = histogram(PREFIX + "retrieve_speed",
            "Retrieve speed of lmcache (tokens per second)", TOKENS_PER_SECOND);
    public static final Family STORE_SPEED = histogram(PREFIX + "store_speed",
            "Store speed of lmcache (tokens per second)", TOKENS_PER_SECOND);
    public static final Family REQUEST_CACHE_HIT_RATE = histogram(PREFIX + "request_cache_hit_rate",
            "Request cache hit rate", HIT_RATES);

    public static final Family REMOTE_TIME_TO_GET = histogram(PREFIX + "remote_time_to_get",
            "Time to get from remote backends (ms): one pipelined batch of a request's reads", REMOTE_MILLISECONDS);
    public static final Family REMOTE_TIME_TO_PUT = histogram(PREFIX + "remote_time_to_put",
            "Time to put to remote backends (ms): one record written", REMOTE_MILLISECONDS);

    public static final List<Family> FAMILIES = families();

    private MetricCatalog() {
    }

    /** LMCache's time_to_lookup buckets: 10 µs doubling twenty times (to about 5 s). */
    private static double[] lookupSeconds() {
        double[] b = new double[20];
        for (int i = 0; i < b.length; i++) {
            b[i] = 0.00001 * Math.pow(2, i); // the same doubles as Python's 0.00001 * 2**i
        }
        return b;
    }

    private static List<Family> families() {
        List<Family> f = new ArrayList<>();
        f.add(counter(PREFIX + "num_retrieve_requests", "Total number of retrieve requests sent to lmcache",
                (s, m) -> s.retrieveRequests()));
        f.add(counter(PREFIX + "num_store_requests", "Total number of store requests sent to lmcache",
                (s, m) -> s.storeRequests()));
        f.add(counter(PREFIX + "num_lookup_requests", "Total number of lookup requests sent to lmcache",
                (s, m) -> s.lookupRequests()));
        f.add(counter(PREFIX + "num_requested_tokens", "Total number of tokens requested from lmcache",
                (s, m) -> s.requestedTokens()));
        f.add(counter(PREFIX + "num_hit_tokens", "Total number of tokens hit in lmcache", (s, m) -> s.retrievedTokens()));
        f.add(counter(PREFIX + "num_stored_tokens", "Total number of tokens stored in lmcache including evicted ones",
                (s, m) -> s.storedTokens()));
        f.add(counter(PREFIX + "num_lookup_tokens", "Total number of tokens requested in lookup from lmcache",
                (s, m) -> s.lookupTokens()));
        f.add(counter(PREFIX + "num_lookup_hits", "Total number of tokens hit in lookup from lmcache",
                (s, m) -> s.lookupHitTokens()));
        f.add(counter(PREFIX + "num_vllm_hit_tokens", "Number of hit tokens in vllm", (s, m) -> m.vllmHitTokens()));
        f.add(counter(PREFIX + "num_prompt_tokens", "Number of prompt tokens in lmcache", (s, m) -> m.promptTokens()));
        f.add(counter(PREFIX + "num_remote_read_requests", "Total number of requests read from remote backends in lmcache",
                (s, m) -> s.remote().reads()));
        f.add(counter(PREFIX + "num_remote_read_bytes", "Total number of bytes read from remote backends in lmcache",
                (s, m) -> s.remote().readBytes()));
        f.add(counter(PREFIX + "num_remote_write_requests", "Total number of requests write to remote backends in lmcache",
                (s, m) -> s.remote().writes()));
        f.add(counter(PREFIX + "num_remote_write_bytes", "Total number of bytes write to remote backends in lmcache",
                (s, m) -> s.remote().writeBytes()));
        // LMCache counts eviction rounds and the keys each evicted; LMCache4j evicts one chunk a round.
        f.add(counter(PREFIX + "local_cpu_evict_count", "Total number of evict in local cpu backend",
                (s, m) -> s.evictions()));
        f.add(counter(PREFIX + "local_cpu_evict_keys_count", "Total number of evict keys in local cpu backend",
                (s, m) -> s.evictions()));
        f.add(counter(PREFIX + "local_cpu_evict_failed_count",
                "Total number of failed eviction in local cpu backend (chunks not stored: nothing evictable)",
                (s, m) -> s.storeSkippedChunks()));
        f.add(counter(PREFIX + "forced_unpin_count", "Total number of forced unpin due to timeout",
                (s, m) -> s.forcedUnpins()));
        f.add(counter(PREFIX + "lookup_0_hit_requests", "Total number of 0 hit lookup requests",
                (s, m) -> m.zeroHitLookups()));
        // LMCache's hit rates cover its last log interval; these cover the engine's life (use rate() of the counters).
        f.add(gauge(PREFIX + "retrieve_hit_rate", LATEST, "Hit rate of lmcache retrieve requests since the engine started",
                (s, m) -> s.retrieveHitRate()));
        f.add(gauge(PREFIX + "lookup_hit_rate", LATEST, "Hit rate of lmcache lookup requests since the engine started",
                (s, m) -> s.lookupHitRate()));
        f.add(gauge(PREFIX + "local_cache_usage", SUM, "Local cache usage (bytes) of lmcache", (s, m) -> s.usedBytes()));
        // Redis's used_memory, polled every 10 s: the whole server's memory, not only LMCache4j's records.
        f.add(gauge(PREFIX + "remote_cache_usage", SUM,
                "Remote cache usage (bytes) of lmcache: the Redis server's used_memory, all of its data",
                (s, m) -> s.remote().serverUsedBytes()));
        f.add(gauge(PREFIX + "local_storage_usage", SUM, "Local storage usage (bytes) of lmcache",
                (s, m) -> s.disk().usedBytes()));
        f.add(gauge(PREFIX + "active_memory_objs_count", SUM, "The number of active memory objects", (s, m) -> s.chunks()));
        f.add(gauge(PREFIX + "pinned_memory_objs_count", SUM, "The number of pinned memory objects", (s, m) -> s.pins()));
        f.add(gauge(PREFIX + "lmcache_is_healthy", LATEST,
                "The health status of LMCache (1=healthy, 0=unhealthy: the remote tier is down)",
                (s, m) -> !s.remote().enabled() || s.remote().healthy() ? 1 : 0));
        // LMCache's asynchronous loads are events of its storage manager; LMCache4j's are prefetches.
        f.add(gauge(PREFIX + "storage_events_ongoing_count", SUM,
                "The number of ongoing events: prefetches queued or running", (s, m) -> s.prefetch().inFlight()));
        f.add(gauge(PREFIX + "storage_events_done_count", SUM,
                "The number of done events: prefetches finished whose handles are not closed yet",
                (s, m) -> s.prefetch().finishedOpen()));
        f.add(TIME_TO_RETRIEVE);
        f.add(TIME_TO_STORE);
        f.add(TIME_TO_LOOKUP);
        f.add(RETRIEVE_SPEED);
        f.add(STORE_SPEED);
        f.add(REQUEST_CACHE_HIT_RATE);
        f.add(REMOTE_TIME_TO_GET);
        f.add(REMOTE_TIME_TO_PUT);
        OwnMetrics.addTo(f);
        return List.copyOf(f);
    }

    /** The series of a counter with one more label, one per value. */
    static Family labelledCounter(String name, String help, String label, List<String> values,
                                  java.util.function.BiFunction<EngineStats, String, Long> reading) {
        List<Family.Series> series = new ArrayList<>();
        for (String v : values) {
            series.add(new Family.Series(label, v, (s, m) -> reading.apply(s, v)));
        }
        return new Family(name, Family.Kind.COUNTER, help, "", new double[0], List.copyOf(series));
    }

    static List<String> refusalReasons() {
        return RemoteStats.REFUSAL_REASONS;
    }
}
