package org.lmcache4j.metrics;

import org.lmcache4j.EngineStats;
import org.lmcache4j.remote.RemoteTier;

import java.util.IdentityHashMap;
import java.util.Map;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.Supplier;

/**
 * One engine's metrics: the histograms and counters recorded per operation (a few atomic adds and
 * no allocation), and the engine's statistics, read when a scrape or a snapshot asks. Bound to a
 * {@link MetricsRegistry} for the engine's life.
 */
public final class EngineMeters implements EngineMetrics, RemoteTier.Timings {
    private final MetricLabels labels;
    private final Supplier<EngineStats> stats;
    private final FixedHistogram timeToLookup = new FixedHistogram(MetricCatalog.TIME_TO_LOOKUP.buckets());
    private final FixedHistogram timeToStore = new FixedHistogram(MetricCatalog.TIME_TO_STORE.buckets());
    private final FixedHistogram timeToRetrieve = new FixedHistogram(MetricCatalog.TIME_TO_RETRIEVE.buckets());
    private final FixedHistogram storeSpeed = new FixedHistogram(MetricCatalog.STORE_SPEED.buckets());
    private final FixedHistogram retrieveSpeed = new FixedHistogram(MetricCatalog.RETRIEVE_SPEED.buckets());
    private final FixedHistogram requestHitRate = new FixedHistogram(MetricCatalog.REQUEST_CACHE_HIT_RATE.buckets());
    private final FixedHistogram remoteGet = new FixedHistogram(MetricCatalog.REMOTE_TIME_TO_GET.buckets());
    private final FixedHistogram remotePut = new FixedHistogram(MetricCatalog.REMOTE_TIME_TO_PUT.buckets());
    private final Map<Family, FixedHistogram> histograms = new IdentityHashMap<>();
    private final LongAdder vllmHitTokens = new LongAdder();
    private final LongAdder promptTokens = new LongAdder();
    private final LongAdder zeroHitLookups = new LongAdder();

    public EngineMeters(MetricLabels labels, Supplier<EngineStats> stats) {
        this.labels = labels;
        this.stats = stats;
        histograms.put(MetricCatalog.TIME_TO_LOOKUP, timeToLookup);
        histograms.put(MetricCatalog.TIME_TO_STORE, timeToStore);
        histograms.put(MetricCatalog.TIME_TO_RETRIEVE, timeToRetrieve);
        histograms.put(MetricCatalog.STORE_SPEED, storeSpeed);
        histograms.put(MetricCatalog.RETRIEVE_SPEED, retrieveSpeed);
        histograms.put(MetricCatalog.REQUEST_CACHE_HIT_RATE, requestHitRate);
        histograms.put(MetricCatalog.REMOTE_TIME_TO_GET, remoteGet);
        histograms.put(MetricCatalog.REMOTE_TIME_TO_PUT, remotePut);
    }

    public MetricLabels labels() {
        return labels;
    }

    @Override
    public void lookup(int tokens, int hitTokens, long nanos) {
        timeToLookup.observe(nanos / 1e9);
        if (hitTokens == 0) {
            zeroHitLookups.increment();
        } else {
            requestHitRate.observe((double) hitTokens / tokens);
        }
    }

    @Override
    public void store(int tokens, int storedTokens, long bytes, long nanos) {
        timeToStore.observe(nanos / 1e9);
        if (storedTokens > 0 && nanos > 0) {
            storeSpeed.observe(storedTokens * 1e9 / nanos);
        }
    }

    @Override
    public void retrieve(int requestedTokens, int retrievedTokens, long bytes, long nanos) {
        timeToRetrieve.observe(nanos / 1e9);
        if (retrievedTokens > 0 && nanos > 0) {
            retrieveSpeed.observe(retrievedTokens * 1e9 / nanos);
        }
    }

    @Override
    public void prompt(int promptTokens, int vllmHitTokens) {
        this.promptTokens.add(promptTokens);
        this.vllmHitTokens.add(vllmHitTokens);
    }

    /** A batch of remote reads took {@code nanos}: LMCache's remote_time_to_get, in milliseconds. */
    @Override
    public void read(long nanos) {
        remoteGet.observe(nanos / 1e6);
    }

    /** A remote write took {@code nanos}: LMCache's remote_time_to_put, in milliseconds. */
    @Override
    public void write(long nanos) {
        remotePut.observe(nanos / 1e6);
    }

    long vllmHitTokens() {
        return vllmHitTokens.sum();
    }

    long promptTokens() {
        return promptTokens.sum();
    }

    long zeroHitLookups() {
        return zeroHitLookups.sum();
    }

    EngineStats stats() {
        return stats.get();
    }

    FixedHistogram histogram(Family f) {
        return histograms.get(f);
    }

    /** This engine's series in the Prometheus text format, as prometheus_client renders them. */
    public String text() {
        return Exposition.text(java.util.List.of(this));
    }

    /** This engine's values as JSON, for the Python mirror (src/lmcache4j/metrics.py). */
    public String json() {
        return Exposition.json(this);
    }
}
