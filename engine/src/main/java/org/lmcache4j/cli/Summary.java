package org.lmcache4j.cli;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/** The replay's report as a few readable lines, in the units of {@link Units}. */
final class Summary {
    private Summary() {
    }

    static String of(Map<String, Object> r) {
        long tokenBytes = ((Number) r.get("token_bytes")).longValue();
        return String.format("""
                        LMCache4j replay: %s users x %s rounds, %s, chunk %s, CPU pool %s
                          caches            %s, transfer %s
                          requests          %s
                          requested tokens  %s
                          hit tokens        %s (%.1f%%)
                          stored tokens     %s
                          store             %s in %.2f s = %s (%.2f s of it waiting for the pool to grow)
                          retrieve          %s in %.2f s = %s
                          verified          %s loaded, %s mismatched bytes
                          evictions         %s
                          store skipped     %s chunks%s
                          pool              %s in use, %s of %s chunks
                          wall time         %.1f s
                        """,
                r.get("users"), r.get("rounds"), r.get("layout"), r.get("chunk_size"), Units.size(num(r, "pool_bytes")),
                r.containsKey("device_name") ? r.get("device") + " (" + r.get("device_name") + ")" : r.get("device"),
                r.get("transfer"),
                r.get("requests"), r.get("requested_tokens"), r.get("hit_tokens"), 100 * num(r, "hit_rate"),
                r.get("stored_tokens"),
                Units.size(num(r, "stored_tokens") * tokenBytes), num(r, "store_seconds"),
                Units.rate(num(r, "store_gbps")), num(r, "pool_growth_wait_seconds"),
                Units.size(num(r, "hit_tokens") * tokenBytes), num(r, "retrieve_seconds"),
                Units.rate(num(r, "retrieve_gbps")),
                Units.size(num(r, "verified_bytes")), r.get("mismatched_bytes"),
                r.get("evictions"), r.get("store_skipped_chunks"), skipReasons(r),
                Units.size(num(r, "pool_used_bytes")), r.get("pool_chunks"), r.get("pool_capacity_chunks"),
                num(r, "wall_seconds"))
                + (r.containsKey("disk_hit_tokens") ? String.format(
                "  disk              %s hit tokens, %s chunks spilled, %s records (%s, %s), "
                        + "read %s, write %s, %s read failures%n",
                r.get("disk_hit_tokens"), r.get("spilled_chunks"), r.get("disk_records"),
                Units.size(num(r, "disk_used_bytes")),
                Boolean.TRUE.equals(r.get("disk_o_direct")) ? "O_DIRECT" : "buffered",
                Units.rate(num(r, "disk_read_gbps")), Units.rate(num(r, "disk_write_gbps")),
                r.get("disk_read_failures")) : "")
                + (r.containsKey("server") ? String.format(
                "  server            %s (pid %s): %s tokens loaded from its disk, %s calls without it, %s reconnects%n",
                r.get("server"), r.get("server_pid"), r.get("server_disk_hit_tokens"), r.get("calls_without_server"),
                r.get("reconnects")) : "")
                + instances(r)
                + (r.containsKey("metrics_port")
                ? "  metrics           port " + r.get("metrics_port") + ", " + r.get("metrics_series") + " lmcache: samples\n"
                : "");
    }

    /** One line per client process of {@code replay --server --instances N}, or nothing. */
    private static String instances(Map<String, Object> r) {
        if (!(r.get("instances") instanceof List<?> each) || !r.containsKey("server")) {
            return "";
        }
        StringBuilder b = new StringBuilder();
        for (Object o : each) {
            Map<?, ?> i = (Map<?, ?>) o;
            b.append(String.format("  instance %-8s pid %s, %s requests, hit rate %.1f%%, %s mismatched bytes, exit %s%n",
                    i.get("instance"), i.get("pid"), i.get("requests"), 100 * ((Number) i.get("hit_rate")).doubleValue(),
                    i.get("mismatched_bytes"), i.get("exit_status")));
        }
        return b.toString();
    }

    /** Why stores skipped chunks, each reason with its count ({@code ": 12 because ..."}), or nothing. */
    private static String skipReasons(Map<String, Object> r) {
        List<String> why = new ArrayList<>();
        long overPool = ((Number) r.get("store_skipped_prompt_over_pool")).longValue();
        long held = ((Number) r.get("store_skipped_pages_held")).longValue();
        if (overPool > 0) {
            why.add(overPool + " because a prompt's new chunks were more than the pool's " + r.get("pool_capacity_chunks")
                    + " pages");
        }
        if (held > 0) {
            why.add(held + " because every page was pinned by a lookup or held by a copy, disk write or Redis write"
                    + " in flight");
        }
        return why.isEmpty() ? "" : ": " + String.join("; ", why);
    }

    private static double num(Map<String, Object> r, String key) {
        return ((Number) r.get(key)).doubleValue();
    }
}
