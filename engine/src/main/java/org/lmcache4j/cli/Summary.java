package org.lmcache4j.cli;

import java.util.Map;

/** The replay's report as a few readable lines. */
final class Summary {
    private Summary() {
    }

    static String of(Map<String, Object> r) {
        double gb = 1e9;
        long tokenBytes = ((Number) r.get("token_bytes")).longValue();
        return String.format("""
                        LMCache4j replay: %s users x %s rounds, %s, chunk %s, CPU pool %.2f GiB
                          caches            %s, transfer %s
                          requests          %s
                          requested tokens  %s
                          hit tokens        %s (%.1f%%)
                          stored tokens     %s
                          store             %.2f GB in %.2f s = %.2f GB/s (%.2f s of it waiting for the pool to grow)
                          retrieve          %.2f GB in %.2f s = %.2f GB/s
                          verified          %.2f GB loaded, %s mismatched bytes
                          evictions         %s (store skipped %s chunks: pool full of pinned chunks)
                          pool              %.2f GiB in use, %s chunks
                          wall time         %.1f s
                        """,
                r.get("users"), r.get("rounds"), r.get("layout"), r.get("chunk_size"),
                num(r, "pool_bytes") / (1L << 30),
                r.containsKey("device_name") ? r.get("device") + " (" + r.get("device_name") + ")" : r.get("device"),
                r.get("transfer"),
                r.get("requests"), r.get("requested_tokens"), r.get("hit_tokens"), 100 * num(r, "hit_rate"),
                r.get("stored_tokens"),
                num(r, "stored_tokens") * tokenBytes / gb, num(r, "store_seconds"), num(r, "store_gbps"),
                num(r, "pool_growth_wait_seconds"),
                num(r, "hit_tokens") * tokenBytes / gb, num(r, "retrieve_seconds"), num(r, "retrieve_gbps"),
                num(r, "verified_bytes") / gb, r.get("mismatched_bytes"),
                r.get("evictions"), r.get("store_skipped_chunks"),
                num(r, "pool_used_bytes") / (1L << 30), r.get("pool_chunks"),
                num(r, "wall_seconds"))
                + (r.containsKey("disk_hit_tokens") ? String.format(
                "  disk              %s hit tokens, %s chunks spilled, %s records (%.2f GiB, %s), "
                        + "read %.2f GB/s, write %.2f GB/s, %s read failures%n",
                r.get("disk_hit_tokens"), r.get("spilled_chunks"), r.get("disk_records"),
                num(r, "disk_used_bytes") / (1L << 30), Boolean.TRUE.equals(r.get("disk_o_direct")) ? "O_DIRECT" : "buffered",
                num(r, "disk_read_gbps"), num(r, "disk_write_gbps"), r.get("disk_read_failures")) : "")
                + (r.containsKey("metrics_port")
                ? "  metrics           port " + r.get("metrics_port") + ", " + r.get("metrics_series") + " lmcache: samples\n"
                : "");
    }

    private static double num(Map<String, Object> r, String key) {
        return ((Number) r.get(key)).doubleValue();
    }
}
