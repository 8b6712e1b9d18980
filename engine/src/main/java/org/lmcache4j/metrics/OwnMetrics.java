package org.lmcache4j.metrics;

import java.util.List;

import static org.lmcache4j.metrics.Family.counter;
import static org.lmcache4j.metrics.Family.gauge;
import static org.lmcache4j.metrics.MetricCatalog.PREFIX;

/**
 * LMCache4j's own metrics, beyond LMCache's: the pool, the disk tier and the remote tier's
 * failures. Named by LMCache's rules: counters get {@code _total} from the exposition, no unit
 * suffixes (times are in seconds, sizes in bytes).
 */
final class OwnMetrics {
    private static final String SUM = "sum";
    private static final String LATEST = "livemostrecent";

    private OwnMetrics() {
    }

    static void addTo(List<Family> f) {
        f.add(counter(PREFIX + "num_store_skipped_chunks", "Chunks not stored: pool full of leased chunks",
                (s, m) -> s.storeSkippedChunks()));
        f.add(counter(PREFIX + "num_store_declined_chunks",
                "Chunks not stored: the eviction policy ranked them below every chunk it could evict",
                (s, m) -> s.storeDeclinedChunks()));
        f.add(counter(PREFIX + "pool_growth_wait_time", "Seconds stores waited for the pool to fault in a slab",
                (s, m) -> s.poolGrowthWaitNanos() / 1e9));
        f.add(gauge(PREFIX + "local_cache_capacity", SUM, "Configured CPU pool bytes", (s, m) -> s.capacityBytes()));
        f.add(gauge(PREFIX + "local_cache_mapped", SUM, "CPU pool bytes mapped so far", (s, m) -> s.mappedBytes()));
        f.add(gauge(PREFIX + "active_leases", SUM, "Open page leases", (s, m) -> s.leases()));
        addDisk(f);
        addRemote(f);
        addPrefetch(f);
    }

    private static void addPrefetch(List<Family> f) {
        f.add(counter(PREFIX + "prefetch_requests", "Prefetches started", (s, m) -> s.prefetch().requests()));
        f.add(counter(PREFIX + "prefetch_cancelled", "Prefetches cancelled before they finished",
                (s, m) -> s.prefetch().cancelled()));
        f.add(counter(PREFIX + "prefetch_failed", "Prefetches ended by an unexpected error",
                (s, m) -> s.prefetch().failed()));
        f.add(counter(PREFIX + "prefetch_disk_tokens", "Tokens prefetches read from disk into the pool",
                (s, m) -> s.prefetch().diskTokens()));
        f.add(counter(PREFIX + "prefetch_remote_tokens", "Tokens prefetches read from the remote tier into the pool",
                (s, m) -> s.prefetch().remoteTokens()));
    }

    private static void addDisk(List<Family> f) {
        f.add(gauge(PREFIX + "disk_capacity", SUM, "max_local_disk_size in bytes", (s, m) -> s.disk().capacityBytes()));
        f.add(gauge(PREFIX + "disk_effective_capacity", SUM,
                "The disk tier's cap in effect: max_local_disk_size, or what the device holds when that is less",
                (s, m) -> s.disk().effectiveCapacityBytes()));
        f.add(gauge(PREFIX + "disk_records", SUM, "Records in the disk tier", (s, m) -> s.disk().records()));
        f.add(gauge(PREFIX + "disk_writable", LATEST, "1 while the disk tier takes writes, 0 while it probes after a failure",
                (s, m) -> s.disk().writable() ? 1 : 0));
        f.add(counter(PREFIX + "disk_hit_tokens", "Tokens retrieves loaded from disk", (s, m) -> s.diskHitTokens()));
        f.add(counter(PREFIX + "disk_spilled_chunks", "Chunks written to disk", (s, m) -> s.spilledChunks()));
        f.add(counter(PREFIX + "disk_write_through_skipped", "Chunks write-through left to write-behind",
                (s, m) -> s.writeThroughSkipped()));
        f.add(counter(PREFIX + "disk_reads", "Disk record reads", (s, m) -> s.disk().reads()));
        f.add(counter(PREFIX + "disk_read_time", "Seconds spent in disk record reads", (s, m) -> s.disk().readNanos() / 1e9));
        f.add(counter(PREFIX + "disk_read_bytes", "Bytes read from disk", (s, m) -> s.disk().readBytes()));
        f.add(counter(PREFIX + "disk_writes", "Disk record writes", (s, m) -> s.disk().writes()));
        f.add(counter(PREFIX + "disk_write_time", "Seconds spent in disk record writes",
                (s, m) -> s.disk().writeNanos() / 1e9));
        f.add(counter(PREFIX + "disk_write_bytes", "Bytes written to disk", (s, m) -> s.disk().writeBytes()));
        f.add(counter(PREFIX + "disk_read_failures", "Disk reads that were misses: corrupt, truncated, vanished",
                (s, m) -> s.disk().readFailures()));
        f.add(counter(PREFIX + "disk_write_failures", "Disk writes that failed (full disk, I/O errors)",
                (s, m) -> s.disk().writeFailures()));
        f.add(counter(PREFIX + "disk_evictions", "Records deleted to stay under max_local_disk_size",
                (s, m) -> s.disk().evictions()));
        f.add(counter(PREFIX + "disk_no_space", "Disk writes that ran out of space on the device (ENOSPC)",
                (s, m) -> s.disk().noSpaceEvents()));
        f.add(counter(PREFIX + "disk_writes_skipped",
                "Disk writes skipped without I/O: no room under the cap in effect, or the tier not writable",
                (s, m) -> s.disk().writesSkipped()));
    }

    private static void addRemote(List<Family> f) {
        f.add(gauge(PREFIX + "remote_healthy", LATEST, "1 while the remote tier is usable",
                (s, m) -> s.remote().healthy() ? 1 : 0));
        f.add(counter(PREFIX + "remote_hit_tokens", "Tokens retrieves loaded from the remote tier",
                (s, m) -> s.remoteHitTokens()));
        f.add(counter(PREFIX + "remote_read_batches", "Batched remote existence queries and reads",
                (s, m) -> s.remote().lookups()));
        f.add(counter(PREFIX + "remote_read_time", "Seconds from sending a request's remote reads to verifying them",
                (s, m) -> s.remote().readNanos() / 1e9));
        f.add(counter(PREFIX + "remote_write_time", "Seconds spent in remote writes", (s, m) -> s.remote().writeNanos() / 1e9));
        f.add(counter(PREFIX + "remote_read_failures", "Remote reads that were misses: missing, corrupt, foreign",
                (s, m) -> s.remote().readFailures()));
        f.add(counter(PREFIX + "remote_writes_dropped", "Remote writes dropped: too many in flight, or tier down",
                (s, m) -> s.remote().writesDropped()));
        f.add(counter(PREFIX + "remote_errors", "Remote operations that failed on the connection",
                (s, m) -> s.remote().errors()));
        f.add(MetricCatalog.labelledCounter(PREFIX + "remote_write_refusals",
                "Remote writes Redis refused with an error reply (oom, readonly, auth, misconf, other)", "reason",
                MetricCatalog.refusalReasons(), (s, reason) -> s.remote().writesRefused(reason)));
    }
}
