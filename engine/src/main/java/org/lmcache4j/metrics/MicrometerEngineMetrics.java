package org.lmcache4j.metrics;

import io.micrometer.core.instrument.DistributionSummary;
import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.FunctionTimer;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import org.lmcache4j.EngineStats;
import org.lmcache4j.RemoteStats;

import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import java.util.function.ToDoubleFunction;
import java.util.function.ToLongFunction;

/**
 * The engine's metrics under LMCache's names ({@code lmcache:num_hit_tokens}, …), so that the
 * dashboards and alerts written for LMCache read LMCache4j unchanged. Counters and gauges are
 * views over {@link EngineStats}; only timings and speeds are recorded per operation.
 */
public final class MicrometerEngineMetrics implements EngineMetrics {
    public static final String PREFIX = "lmcache:";

    private final Timer timeToLookup;
    private final Timer timeToStore;
    private final Timer timeToRetrieve;
    private final DistributionSummary storeSpeed;
    private final DistributionSummary retrieveSpeed;
    private final DistributionSummary storeGbps;
    private final DistributionSummary retrieveGbps;

    private MicrometerEngineMetrics(MeterRegistry registry) {
        timeToLookup = timer(registry, "time_to_lookup", "Time of lookups");
        timeToStore = timer(registry, "time_to_store", "Time of stores");
        timeToRetrieve = timer(registry, "time_to_retrieve", "Time of retrieves");
        storeSpeed = summary(registry, "store_speed", "tokens/s", "Tokens stored per second of store");
        retrieveSpeed = summary(registry, "retrieve_speed", "tokens/s", "Tokens loaded per second of retrieve");
        storeGbps = summary(registry, "store_gbps", "GB/s", "Bytes stored per second of store, in GB (1e9)");
        retrieveGbps = summary(registry, "retrieve_gbps", "GB/s", "Bytes loaded per second of retrieve, in GB (1e9)");
    }

    /** Registers every meter with {@code registry}; counters and gauges read {@code stats}. */
    public static EngineMetrics bind(MeterRegistry registry, Supplier<EngineStats> stats) {
        counter(registry, stats, "num_lookup_requests", "Lookups", EngineStats::lookupRequests);
        counter(registry, stats, "num_lookup_tokens", "Tokens asked about by lookups", EngineStats::lookupTokens);
        counter(registry, stats, "num_lookup_hits", "Tokens found by lookups", EngineStats::lookupHitTokens);
        counter(registry, stats, "num_store_requests", "Stores", EngineStats::storeRequests);
        counter(registry, stats, "num_stored_tokens", "Tokens written into the CPU pool", EngineStats::storedTokens);
        counter(registry, stats, "num_retrieve_requests", "Retrieves", EngineStats::retrieveRequests);
        counter(registry, stats, "num_requested_tokens", "Tokens retrieves asked for", EngineStats::requestedTokens);
        counter(registry, stats, "num_hit_tokens", "Tokens retrieves loaded", EngineStats::retrievedTokens);
        counter(registry, stats, "local_cpu_evict_count", "Chunks evicted from the CPU pool", EngineStats::evictions);
        counter(registry, stats, "forced_unpin_count", "Pins released by pin_timeout_sec", EngineStats::forcedUnpins);
        counter(registry, stats, "num_store_skipped_chunks", "Chunks not stored: pool full of leased chunks",
                EngineStats::storeSkippedChunks);
        counter(registry, stats, "pool_growth_wait_seconds", "Time stores waited for the pool to fault in a slab",
                s -> s.poolGrowthWaitNanos() / 1e9);
        bindDisk(registry, stats);
        bindRemote(registry, stats);
        gauge(registry, stats, "retrieve_hit_rate", "Loaded over requested tokens", EngineStats::retrieveHitRate);
        gauge(registry, stats, "lookup_hit_rate", "Found over asked-about tokens", EngineStats::lookupHitRate);
        gauge(registry, stats, "local_cache_usage", "Bytes of CPU pool pages in use", EngineStats::usedBytes);
        gauge(registry, stats, "local_cache_capacity", "Configured CPU pool bytes", EngineStats::capacityBytes);
        gauge(registry, stats, "local_cache_mapped", "CPU pool bytes mapped so far", EngineStats::mappedBytes);
        gauge(registry, stats, "active_memory_objs_count", "Chunks in the CPU pool", EngineStats::chunks);
        gauge(registry, stats, "pinned_memory_objs_count", "Chunks pinned by lookups", EngineStats::pins);
        gauge(registry, stats, "active_leases", "Open page leases", EngineStats::leases);
        return new MicrometerEngineMetrics(registry);
    }

    /** The disk tier: LMCache's {@code local_storage_usage}, and LMCache4j's own {@code disk_*} meters. */
    private static void bindDisk(MeterRegistry registry, Supplier<EngineStats> stats) {
        gauge(registry, stats, "local_storage_usage", "Bytes of disk tier records", s -> s.disk().usedBytes());
        gauge(registry, stats, "disk_capacity", "max_local_disk_size in bytes", s -> s.disk().capacityBytes());
        gauge(registry, stats, "disk_records", "Records in the disk tier", s -> s.disk().records());
        counter(registry, stats, "disk_hit_tokens", "Tokens retrieves loaded from disk", EngineStats::diskHitTokens);
        counter(registry, stats, "disk_spilled_chunks", "Chunks written to disk", EngineStats::spilledChunks);
        counter(registry, stats, "disk_write_through_skipped", "Chunks write-through left to write-behind",
                EngineStats::writeThroughSkipped);
        counter(registry, stats, "disk_read_bytes", "Bytes read from disk", s -> s.disk().readBytes());
        counter(registry, stats, "disk_write_bytes", "Bytes written to disk", s -> s.disk().writeBytes());
        counter(registry, stats, "disk_read_failures", "Disk reads that were misses: corrupt, truncated, vanished",
                s -> s.disk().readFailures());
        counter(registry, stats, "disk_write_failures", "Disk writes that failed (full disk, I/O errors)",
                s -> s.disk().writeFailures());
        counter(registry, stats, "disk_evictions", "Records deleted to stay under max_local_disk_size",
                s -> s.disk().evictions());
        gauge(registry, stats, "disk_effective_capacity",
                "The disk tier's cap in effect: max_local_disk_size, or what the device holds when that is less",
                s -> s.disk().effectiveCapacityBytes());
        counter(registry, stats, "disk_no_space", "Disk writes that ran out of space on the device (ENOSPC)",
                s -> s.disk().noSpaceEvents());
        counter(registry, stats, "disk_writes_skipped",
                "Disk writes skipped without I/O: no room under the cap in effect, or the tier not writable",
                s -> s.disk().writesSkipped());
        gauge(registry, stats, "disk_writable", "1 while the disk tier takes writes, 0 while it probes after a failure",
                s -> s.disk().writable() ? 1 : 0);
        functionTimer(registry, stats, "disk_read", "Disk record reads", s -> s.disk().reads(), s -> s.disk().readNanos());
        functionTimer(registry, stats, "disk_write", "Disk record writes", s -> s.disk().writes(),
                s -> s.disk().writeNanos());
    }

    /** The remote tier, under LMCache's names where it has them. */
    private static void bindRemote(MeterRegistry registry, Supplier<EngineStats> stats) {
        counter(registry, stats, "num_remote_read_requests", "Records read from the remote tier", s -> s.remote().reads());
        counter(registry, stats, "num_remote_read_bytes", "Bytes read from the remote tier", s -> s.remote().readBytes());
        counter(registry, stats, "num_remote_write_requests", "Records written to the remote tier",
                s -> s.remote().writes());
        counter(registry, stats, "num_remote_write_bytes", "Bytes written to the remote tier",
                s -> s.remote().writeBytes());
        functionTimer(registry, stats, "remote_time_to_get", "Remote read batches",
                s -> s.remote().lookups(), s -> s.remote().readNanos());
        functionTimer(registry, stats, "remote_time_to_put", "Remote writes",
                s -> s.remote().writes(), s -> s.remote().writeNanos());
        counter(registry, stats, "remote_hit_tokens", "Tokens retrieves loaded from the remote tier",
                EngineStats::remoteHitTokens);
        counter(registry, stats, "remote_read_failures", "Remote reads that were misses: missing, corrupt, foreign",
                s -> s.remote().readFailures());
        counter(registry, stats, "remote_writes_dropped", "Remote writes dropped: too many in flight, or tier down",
                s -> s.remote().writesDropped());
        counter(registry, stats, "remote_errors", "Remote operations that failed on the connection",
                s -> s.remote().errors());
        for (String reason : RemoteStats.REFUSAL_REASONS) {
            FunctionCounter.builder(PREFIX + "remote_write_refusals", stats,
                            s -> s.get().remote().writesRefused(reason))
                    .tag("reason", reason)
                    .description("Remote writes Redis refused with an error reply (oom, readonly, auth, misconf, other)")
                    .register(registry);
        }
        gauge(registry, stats, "remote_healthy", "1 while the remote tier is usable", s -> s.remote().healthy() ? 1 : 0);
    }

    @Override
    public void lookup(int tokens, int hitTokens, long nanos) {
        timeToLookup.record(nanos, TimeUnit.NANOSECONDS);
    }

    @Override
    public void store(int tokens, int storedTokens, long bytes, long nanos) {
        timeToStore.record(nanos, TimeUnit.NANOSECONDS);
        if (storedTokens > 0 && nanos > 0) {
            storeSpeed.record(storedTokens * 1e9 / nanos);
            storeGbps.record((double) bytes / nanos);
        }
    }

    @Override
    public void retrieve(int requestedTokens, int retrievedTokens, long bytes, long nanos) {
        timeToRetrieve.record(nanos, TimeUnit.NANOSECONDS);
        if (retrievedTokens > 0 && nanos > 0) {
            retrieveSpeed.record(retrievedTokens * 1e9 / nanos);
            retrieveGbps.record((double) bytes / nanos);
        }
    }

    private static void counter(MeterRegistry r, Supplier<EngineStats> stats, String name, String help,
                                ToDoubleFunction<EngineStats> f) {
        FunctionCounter.builder(PREFIX + name, stats, s -> f.applyAsDouble(s.get())).description(help).register(r);
    }

    private static void gauge(MeterRegistry r, Supplier<EngineStats> stats, String name, String help,
                              ToDoubleFunction<EngineStats> f) {
        Gauge.builder(PREFIX + name, stats, s -> f.applyAsDouble(s.get())).description(help).strongReference(true)
                .register(r);
    }

    private static void functionTimer(MeterRegistry r, Supplier<EngineStats> stats, String name, String help,
                                      ToLongFunction<EngineStats> count, ToDoubleFunction<EngineStats> nanos) {
        FunctionTimer.builder(PREFIX + name, stats, s -> count.applyAsLong(s.get()), s -> nanos.applyAsDouble(s.get()),
                TimeUnit.NANOSECONDS).description(help).register(r);
    }

    private static Timer timer(MeterRegistry r, String name, String help) {
        return Timer.builder(PREFIX + name).description(help).publishPercentileHistogram().register(r);
    }

    private static DistributionSummary summary(MeterRegistry r, String name, String unit, String help) {
        return DistributionSummary.builder(PREFIX + name).baseUnit(unit).description(help).register(r);
    }
}
