package org.lmcache4j.bench.model;

import org.lmcache4j.EngineConfig;
import org.lmcache4j.EngineStats;
import org.lmcache4j.KvLayout;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.function.Predicate;
import java.util.function.ToLongFunction;

/**
 * What the TTFT replay reports: medians per round and overall, the speedup on full-prefix hits
 * of the document workload, the engine's own time per request (lookup and pin; and the
 * retrieve and store copies apart), and the logits mismatches, as JSON and as a table.
 */
final class ReferenceReplayReport {
    private final ModelShape shape;
    private final KvLayout layout;
    private final EngineConfig config;
    private final List<TtftSample> samples;
    private final EngineStats end;

    ReferenceReplayReport(ModelShape shape, KvLayout layout, EngineConfig config, List<TtftSample> samples,
                          EngineStats end) {
        this.shape = shape;
        this.layout = layout;
        this.config = config;
        this.samples = samples;
        this.end = end;
    }

    boolean ok() {
        return mismatches() == 0 && end.leases() == 0 && end.pins() == 0;
    }

    private long mismatches() {
        return samples.stream().filter(s -> !s.exact()).count();
    }

    /** Requests of the document workload after its first round: the document is a full-prefix hit. */
    private static boolean documentHit(TtftSample s) {
        return s.workload().equals("docs") && s.round() > 0;
    }

    private double p50Ms(Predicate<TtftSample> which, ToLongFunction<TtftSample> value) {
        return TtftSample.quantile(samples.stream().filter(which).mapToLong(value).toArray(), 0.5) / 1e6;
    }

    private double quantileUs(Predicate<TtftSample> which, double p) {
        return TtftSample.quantile(samples.stream().filter(which).mapToLong(TtftSample::lookupNanos).toArray(), p) / 1e3;
    }

    List<TtftPlot.Bar> bars() {
        List<TtftPlot.Bar> bars = new ArrayList<>();
        for (TtftSample first : samples) {
            Predicate<TtftSample> same = s -> s.workload().equals(first.workload()) && s.round() == first.round();
            if (bars.stream().noneMatch(b -> b.workload().equals(first.workload()) && b.round() == first.round())) {
                bars.add(new TtftPlot.Bar(first.workload(), first.round(), p50Ms(same, TtftSample::withoutNanos),
                        p50Ms(same, TtftSample::withNanos)));
            }
        }
        return bars;
    }

    Map<String, Object> json() {
        Predicate<TtftSample> all = s -> true;
        Map<String, Object> r = new LinkedHashMap<>();
        r.put("model", "reference " + shape);
        r.put("layout", "flash_attn " + layout.numLayers() + "x" + layout.numKvHeads() + "x" + layout.headSize()
                + " float32 block " + layout.blockSize());
        r.put("chunk_size", config.chunkSize());
        r.put("requests", samples.size());
        r.put("ttft_ms_p50_without", p50Ms(all, TtftSample::withoutNanos));
        r.put("ttft_ms_p50_with", p50Ms(all, TtftSample::withNanos));
        r.put("ttft_speedup", p50Ms(all, TtftSample::withoutNanos) / p50Ms(all, TtftSample::withNanos));
        if (samples.stream().anyMatch(ReferenceReplayReport::documentHit)) {
            double without = p50Ms(ReferenceReplayReport::documentHit, TtftSample::withoutNanos);
            double with = p50Ms(ReferenceReplayReport::documentHit, TtftSample::withNanos);
            r.put("docs_hit_ttft_ms_p50_without", without);
            r.put("docs_hit_ttft_ms_p50_with", with);
            r.put("docs_hit_ttft_speedup", without / with);
        }
        r.put("lookup_us_p50", quantileUs(all, 0.5));
        r.put("lookup_us_p99", quantileUs(all, 0.99));
        r.put("miss_lookup_us_p50", quantileUs(s -> s.loadedTokens() == 0, 0.5));
        r.put("retrieve_ms_p50_on_hits", p50Ms(s -> s.loadedTokens() > 0, TtftSample::retrieveNanos));
        r.put("store_ms_p50", p50Ms(all, TtftSample::storeNanos));
        r.put("hit_tokens", samples.stream().mapToLong(TtftSample::loadedTokens).sum());
        r.put("prompt_tokens", samples.stream().mapToLong(TtftSample::promptTokens).sum());
        r.put("logits_mismatches", mismatches());
        r.put("leases_at_end", end.leases());
        r.put("pins_at_end", end.pins());
        List<Map<String, Object>> rounds = new ArrayList<>();
        for (TtftPlot.Bar b : bars()) {
            Predicate<TtftSample> same = s -> s.workload().equals(b.workload()) && s.round() == b.round();
            Map<String, Object> row = new LinkedHashMap<>();
            row.put("workload", b.workload());
            row.put("round", b.round() + 1);
            row.put("requests", samples.stream().filter(same).count());
            row.put("prompt_tokens_mean", samples.stream().filter(same).mapToInt(TtftSample::promptTokens).average().orElse(0));
            row.put("hit_tokens_mean", samples.stream().filter(same).mapToInt(TtftSample::loadedTokens).average().orElse(0));
            row.put("ttft_ms_p50_without", b.withoutMs());
            row.put("ttft_ms_p50_with", b.withMs());
            row.put("speedup", b.withoutMs() / b.withMs());
            rounds.add(row);
        }
        r.put("rounds", rounds);
        return r;
    }

    @SuppressWarnings("unchecked")
    String table() {
        Map<String, Object> r = json();
        StringBuilder s = new StringBuilder();
        s.append(f("%s, %s, chunk %s%n%n", r.get("model"), r.get("layout"), r.get("chunk_size")));
        s.append(f("| workload | round | requests | prompt tokens | from engine | TTFT without (ms) | TTFT with (ms) | speedup |%n"));
        s.append("|---|---:|---:|---:|---:|---:|---:|---:|\n");
        for (Map<String, Object> row : (List<Map<String, Object>>) r.get("rounds")) {
            s.append(f("| %s | %d | %d | %.0f | %.0f | %.1f | %.1f | %.1fx |%n", row.get("workload"), row.get("round"),
                    row.get("requests"), row.get("prompt_tokens_mean"), row.get("hit_tokens_mean"),
                    row.get("ttft_ms_p50_without"), row.get("ttft_ms_p50_with"), row.get("speedup")));
        }
        s.append(f("%nTTFT p50 over %d requests: %.1f ms without, %.1f ms with: %.2fx%n", r.get("requests"),
                r.get("ttft_ms_p50_without"), r.get("ttft_ms_p50_with"), r.get("ttft_speedup")));
        if (r.containsKey("docs_hit_ttft_speedup")) {
            s.append(f("document full-prefix hits: %.1f ms without, %.1f ms with: %.1fx (goal >= 10x)%n",
                    r.get("docs_hit_ttft_ms_p50_without"), r.get("docs_hit_ttft_ms_p50_with"), r.get("docs_hit_ttft_speedup")));
        }
        s.append(f("engine lookup+pin per request: p50 %.1f us, p99 %.1f us, on misses p50 %.1f us (goal < 100 us); "
                        + "retrieve p50 %.2f ms on hits, store p50 %.2f ms (copies)%n",
                r.get("lookup_us_p50"), r.get("lookup_us_p99"), r.get("miss_lookup_us_p50"),
                r.get("retrieve_ms_p50_on_hits"), r.get("store_ms_p50")));
        s.append(f("logits mismatches: %d; leases at end %d, pins at end %d", r.get("logits_mismatches"),
                r.get("leases_at_end"), r.get("pins_at_end")));
        return s.toString();
    }

    private static String f(String format, Object... args) {
        return String.format(Locale.ROOT, format, args);
    }
}
