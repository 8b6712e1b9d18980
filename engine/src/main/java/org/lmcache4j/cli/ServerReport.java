package org.lmcache4j.cli;

import org.lmcache4j.KvLayout;

import java.nio.file.Path;
import java.util.Map;

/**
 * The report of a replay against {@code lmcache4j server}: the fields of the embedded replay's
 * report, from this process's request loop and the server's counters (their growth during the
 * run: other clients' work in the meantime counts too), and what an operator of a shared server
 * needs besides: which server, how often it was not there, and this process's part.
 */
final class ServerReport {
    /** How long the report waits for the server's leases to settle (a disk write in flight holds one). */
    private static final long SETTLE_NANOS = 5_000_000_000L;

    private ServerReport() {
    }

    static Map<String, Object> of(ReplayWorkload workload, KvLayout layout, ReplayCommand.ReplayRun run, ServerCache cache,
                                  Path socket, int instance) {
        ServerCounters c = settled(cache);
        Map<String, Object> r = ReplayCommand.runReport(run, layout, run.storedTokens);
        r.put("evictions", c.grown(ServerCounters.EVICTIONS));
        r.put("store_skipped_chunks", c.grown(ServerCounters.STORE_SKIPPED_CHUNKS));
        r.put("store_skipped_prompt_over_pool", run.skippedPromptOverPool);
        r.put("store_skipped_pages_held", run.skippedPagesHeld);
        r.put("leases_at_end", c.last(ServerCounters.LEASES));
        r.put("pins_at_end", c.last(ServerCounters.PINS));
        workload.describe(r);
        r.put("chunk_size", cache.chunkSize());
        r.put("pool_bytes", c.last(ServerCounters.CAPACITY_BYTES));
        r.put("pool_capacity_chunks", c.last(ServerCounters.CAPACITY_PAGES));
        r.put("pool_used_bytes", c.last(ServerCounters.USED_BYTES));
        r.put("pool_chunks", c.last(ServerCounters.CHUNKS));
        r.put("layout", ReplayCommand.layoutName(layout));
        r.put("token_bytes", layout.tokenBytes());
        r.put("store_seconds", run.storeNanos / 1e9);
        r.put("pool_growth_wait_seconds", c.grown(ServerCounters.POOL_GROWTH_WAIT_NANOS) / 1e9);
        r.put("retrieve_seconds", run.retrieveNanos / 1e9);
        r.put("wall_seconds", run.wallNanos / 1e9);
        r.put("server", socket.toString());
        r.put("server_pid", cache.serverPid());
        r.put("pid", ProcessHandle.current().pid());
        r.put("instance", instance);
        r.put("server_disk_hit_tokens", c.diskHitTokens());
        r.put("calls_without_server", cache.callsWithoutServer());
        r.put("reconnects", cache.reconnects());
        r.put("retrieves_lost", run.retrievesLost);
        return r;
    }

    /**
     * The server's counters once its leases and pins are back to 0, or as they are after
     * {@link #SETTLE_NANOS}: a disk or Redis write of this run's chunks may still hold a lease.
     */
    private static ServerCounters settled(ServerCache cache) {
        long deadline = System.nanoTime() + SETTLE_NANOS;
        while (true) {
            ServerCounters c = cache.counters();
            boolean idle = c.last(ServerCounters.LEASES) == 0 && c.last(ServerCounters.PINS) == 0;
            if (idle || !cache.connected() || System.nanoTime() > deadline) {
                return c;
            }
            try {
                Thread.sleep(20);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return c;
            }
        }
    }
}
