package org.lmcache4j.bench.model;

import org.lmcache4j.EngineStats;
import org.lmcache4j.bench.model.ServingRequest.Kind;

import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.function.Predicate;
import java.util.stream.Stream;

/**
 * What the continuous-batching replay reports: inter-token latency of the steps with and without
 * a disk or Redis load in flight, per loading mode; time to first token of the hit requests; and
 * whether every token of every hit request equals, bit for bit, the reference run's.
 */
final class ServingReport {
    /** One loading mode's run, its engine's state after its close, and whether its times count (not a warm-up). */
    record Mode(ServingRun run, EngineStats end, boolean measured) {
        String name() {
            return run.strategy();
        }
    }

    private final Map<String, ServingRun.Outcome> reference = new LinkedHashMap<>();
    private final List<Mode> modes;
    /** TTFT of full CPU hits, whole-chunk and layer by layer. */
    private final LayerwiseTtft.Result layerwise;
    private final String diskDir;
    private final boolean remote;

    ServingReport(List<ServingRun.Outcome> reference, List<Mode> modes, LayerwiseTtft.Result layerwise, String diskDir,
                  boolean remote) {
        reference.forEach(o -> this.reference.put(o.request().id(), o));
        this.modes = modes;
        this.layerwise = layerwise;
        this.diskDir = diskDir;
        this.remote = remote;
    }

    /** The runs whose times count. */
    List<Mode> measured() {
        return modes.stream().filter(Mode::measured).toList();
    }

    /**
     * Tokens of hit requests whose logits differ from the reference run's, or that are missing;
     * and layer-by-layer requests whose logits differ from the whole-chunk ones.
     */
    long mismatches() {
        return layerwise.mismatches() + checked().mapToLong(pair -> {
            List<int[]> want = pair[0].logitBits();
            List<int[]> got = pair[1].logitBits();
            int expected = pair[1].aborted() ? Math.min(got.size(), want.size()) : want.size();
            long wrong = Math.abs(expected - Math.min(got.size(), expected));
            for (int i = 0; i < Math.min(expected, got.size()); i++) {
                wrong += Arrays.equals(want.get(i), got.get(i)) ? 0 : 1;
            }
            return wrong;
        }).sum();
    }

    private long tokensChecked() {
        return checked().mapToLong(pair -> pair[1].logitBits().size()).sum();
    }

    /** (reference, served) for every hit request of every mode. */
    private Stream<ServingRun.Outcome[]> checked() {
        return modes.stream().flatMap(m -> m.run().outcomes().stream())
                .filter(o -> o.request().kind() != ServingRequest.Kind.BACKGROUND)
                .map(o -> new ServingRun.Outcome[]{reference.get(o.request().id()), o});
    }

    boolean ok() {
        return mismatches() == 0 // counts the tokens a request that was not aborted failed to produce, too
                && modes.stream().allMatch(m -> m.end().leases() == 0 && m.end().pins() == 0);
    }

    private static double itlMs(Stream<Mode> modes, Predicate<ServingRun.Step> which, double p) {
        long[] nanos = modes.flatMap(m -> m.run().measured().stream()).filter(ServingRun.Step::itlSample).filter(which)
                .mapToLong(ServingRun.Step::nanos).toArray();
        return nanos.length == 0 ? Double.NaN : TtftSample.quantile(nanos, p) / 1e6;
    }

    private Stream<Mode> mode(String name) {
        return measured().stream().filter(m -> m.name().equals(name));
    }

    private double ttftMs(String mode, Predicate<Kind> kind) {
        return p50Ms(mode(mode).flatMap(m -> m.run().outcomes().stream())
                .filter(o -> kind.test(o.request().kind()) && o.ttftNanos() >= 0).mapToLong(ServingRun.Outcome::ttftNanos));
    }

    /** Adds the fields to {@code r}; {@code logits_mismatches} becomes the sum of its value there and this replay's. */
    void addTo(Map<String, Object> r) {
        Predicate<ServingRun.Step> quiet = s -> !s.loading();
        putIfKnown(r, "itl_ms_p50_quiet", itlMs(measured().stream(), quiet, 0.5));
        putIfKnown(r, "itl_ms_p99_quiet", itlMs(measured().stream(), quiet, 0.99));
        for (String m : List.of("sync", "async")) {
            putIfKnown(r, "itl_ms_p50_loading_" + m, itlMs(mode(m), ServingRun.Step::loading, 0.5));
            putIfKnown(r, "itl_ms_p99_loading_" + m, itlMs(mode(m), ServingRun.Step::loading, 0.99));
        }
        putIfKnown(r, "itl_loading_async_over_quiet", itlMs(mode("async"), ServingRun.Step::loading, 0.99)
                / itlMs(measured().stream(), quiet, 0.99));
        putIfKnown(r, "itl_loading_sync_over_quiet", itlMs(mode("sync"), ServingRun.Step::loading, 0.99)
                / itlMs(measured().stream(), quiet, 0.99));
        List<ServingRequest.Kind> kinds = remote ? List.of(ServingRequest.Kind.DISK_HIT, ServingRequest.Kind.REMOTE_HIT)
                : List.of(ServingRequest.Kind.DISK_HIT);
        for (ServingRequest.Kind kind : kinds) {
            String tier = kind == ServingRequest.Kind.DISK_HIT ? "disk" : "remote";
            putIfKnown(r, "ttft_ms_p50_" + tier + "_hit_sync", ttftMs("sync", k -> k == kind));
            putIfKnown(r, "ttft_ms_p50_" + tier + "_hit_async", ttftMs("async", k -> k == kind));
            putIfKnown(r, "ttft_" + tier + "_hit_async_over_sync", ttftMs("async", k -> k == kind) / ttftMs("sync", k -> k == kind));
            for (String m : List.of("sync", "async")) { // the load alone: TTFT less the steps around it
                putIfKnown(r, "load_ms_p50_" + tier + "_hit_" + m, p50Ms(mode(m).flatMap(x -> x.run().outcomes().stream())
                        .filter(o -> o.request().kind() == kind && o.loadNanos() >= 0).mapToLong(ServingRun.Outcome::loadNanos)));
            }
        }
        addPoolHits(r);
        r.put("ttft_ms_p50_cpu_hit_whole", layerwise.wholeMs());
        r.put("ttft_ms_p50_cpu_hit_layerwise", layerwise.layerwiseMs());
        r.put("layerwise_ttft_ratio", layerwise.ratio());
        for (String m : List.of("sync", "async")) { // what beginning the loads cost the steps where hits arrived
            long[] begin = mode(m).flatMap(x -> x.run().measured().stream()).filter(st -> st.beginNanos() > 0 && st.loading())
                    .mapToLong(ServingRun.Step::beginNanos).toArray();
            putIfKnown(r, "load_begin_ms_p50_" + m, begin.length == 0 ? Double.NaN : TtftSample.quantile(begin, 0.5) / 1e6);
        }
        for (String m : List.of("sync", "async")) { // over every measured round of the mode
            r.put("serving_steps_" + m, mode(m).mapToLong(x -> x.run().measured().size()).sum());
            r.put("serving_loading_steps_" + m, mode(m).flatMap(x -> x.run().measured().stream())
                    .filter(ServingRun.Step::loading).count());
            r.put("hit_loaded_tokens_" + m, mode(m).flatMap(this::hits).mapToLong(ServingRun.Outcome::loadedTokens).sum());
            r.put("pool_hit_loaded_tokens_" + m, mode(m).flatMap(x -> x.run().outcomes().stream())
                    .filter(o -> o.request().kind().poolHit()).mapToLong(ServingRun.Outcome::loadedTokens).sum());
        }
        r.put("hit_requests", reference.values().stream().filter(o -> !o.request().kind().poolHit()).count());
        r.put("hit_prompt_tokens", reference.values().stream().filter(o -> !o.request().kind().poolHit())
                .mapToLong(o -> o.request().prompt().length).sum());
        r.put("pool_hit_requests", reference.values().stream().filter(o -> o.request().kind().poolHit()).count());
        r.put("aborted_requests", modes.stream().flatMap(this::hits).filter(ServingRun.Outcome::aborted).count());
        r.put("aborted_while_loading", modes.stream().flatMap(this::hits)
                .filter(ServingRun.Outcome::abortedWhileLoading).count());
        mode("async").findFirst().ifPresent(m -> r.put("prefetches_async", m.end().prefetch().requests()));
        r.put("serving_tokens_checked", tokensChecked());
        r.put("serving_logits_mismatches", mismatches());
        r.put("logits_mismatches", ((Number) r.getOrDefault("logits_mismatches", 0L)).longValue() + mismatches());
        r.put("serving_leases_at_end", modes.stream().mapToLong(m -> m.end().leases()).sum());
        r.put("serving_pins_at_end", modes.stream().mapToLong(m -> m.end().pins()).sum());
        r.put("serving_disk_dir", diskDir);
    }

    /**
     * CPU-pool hits, copied in the step that schedules them or loaded in the background: their TTFT
     * and what beginning their load took out of the step they arrived at (the batch's wait).
     */
    private void addPoolHits(Map<String, Object> r) {
        putIfKnown(r, "ttft_ms_p50_pool_hit_sync", ttftMs("sync", Kind::poolHit));
        for (Kind kind : List.of(Kind.POOL_HIT_IN_STEP, Kind.POOL_HIT_BACKGROUND)) {
            String way = kind == Kind.POOL_HIT_IN_STEP ? "in_step" : "background";
            putIfKnown(r, "ttft_ms_p50_pool_hit_async_" + way, ttftMs("async", k -> k == kind));
            putIfKnown(r, "load_begin_ms_p50_pool_hit_" + way, p50Ms(mode("async").flatMap(m -> m.run().outcomes().stream()
                    .filter(o -> o.request().kind() == kind && !o.aborted())
                    .map(o -> m.run().steps().get(o.arrivalStep()))).mapToLong(ServingRun.Step::beginNanos)));
        }
        Object step = r.get("ttft_ms_p50_pool_hit_async_in_step");
        Object background = r.get("ttft_ms_p50_pool_hit_async_background");
        if (step != null && background != null) {
            r.put("ttft_pool_hit_background_over_in_step", ((Number) background).doubleValue() / ((Number) step).doubleValue());
        }
    }

    private static double p50Ms(java.util.stream.LongStream nanos) {
        long[] n = nanos.toArray();
        return n.length == 0 ? Double.NaN : TtftSample.quantile(n, 0.5) / 1e6;
    }

    /** The disk and Redis hits of a run (not the CPU-pool hits, which repeat their prompts). */
    private Stream<ServingRun.Outcome> hits(Mode m) {
        return m.run().outcomes().stream().filter(o -> o.request().kind() != Kind.BACKGROUND && !o.request().kind().poolHit());
    }

    /** A quantile of no samples is unknown: the field is left out rather than made up. */
    private static void putIfKnown(Map<String, Object> r, String key, double value) {
        if (Double.isFinite(value)) {
            r.put(key, value);
        }
    }

    String table() {
        Map<String, Object> r = new LinkedHashMap<>();
        addTo(r);
        StringBuilder s = new StringBuilder();
        s.append(f("%n%nContinuous batching, %d hit requests%s, cold CPU pool; %d measured round(s) a mode%n",
                r.get("hit_requests"),
                remote ? " (disk and Redis)" : " (disk)", mode("sync").count()));
        s.append("| loading | steps | steps loading | ITL p99 loading (ms) | ITL p50 loading (ms) | TTFT p50 disk hit (ms) |"
                + (remote ? " TTFT p50 Redis hit (ms) |" : "") + "\n");
        s.append("|---|---:|---:|---:|---:|---:|").append(remote ? "---:|" : "").append('\n');
        for (String m : List.of("sync", "async")) {
            s.append(f("| %s | %s | %s | %s | %s | %s |", m, r.get("serving_steps_" + m), r.get("serving_loading_steps_" + m),
                    ms(r.get("itl_ms_p99_loading_" + m)), ms(r.get("itl_ms_p50_loading_" + m)),
                    ms(r.get("ttft_ms_p50_disk_hit_" + m))));
            s.append(remote ? f(" %s |", ms(r.get("ttft_ms_p50_remote_hit_" + m))) : "").append('\n');
        }
        s.append(f("ITL with no load in flight: p50 %s ms, p99 %s ms; loading p99 / quiet p99: sync %s, async %s"
                        + " (goal async <= 1.3)%n", ms(r.get("itl_ms_p50_quiet")), ms(r.get("itl_ms_p99_quiet")),
                ratio(r.get("itl_loading_sync_over_quiet")), ratio(r.get("itl_loading_async_over_quiet"))));
        s.append(f("TTFT of a disk hit, async / sync: %s (goal <= 1.1); aborted %s (%s while loading)%n",
                ratio(r.get("ttft_disk_hit_async_over_sync")), r.get("aborted_requests"), r.get("aborted_while_loading")));
        s.append(f("a disk hit's load alone, p50: sync %s ms, async %s ms%n", ms(r.get("load_ms_p50_disk_hit_sync")),
                ms(r.get("load_ms_p50_disk_hit_async"))));
        s.append(f("beginning a hit's load took the step, p50: sync %s ms (the whole load), async %s ms (lookup, prefetch)%n",
                ms(r.get("load_begin_ms_p50_sync")), ms(r.get("load_begin_ms_p50_async"))));
        s.append(f("CPU-pool hits, TTFT p50: sync %s ms; async: copied in the step %s ms (took %s ms of it), in the"
                        + " background %s ms (took %s ms of its step): background / in step %s%n",
                ms(r.get("ttft_ms_p50_pool_hit_sync")), ms(r.get("ttft_ms_p50_pool_hit_async_in_step")),
                ms2(r.get("load_begin_ms_p50_pool_hit_in_step")), ms(r.get("ttft_ms_p50_pool_hit_async_background")),
                ms2(r.get("load_begin_ms_p50_pool_hit_background")), ratio(r.get("ttft_pool_hit_background_over_in_step"))));
        s.append(f("full CPU hits: TTFT p50 %.2f ms whole-chunk, %.2f ms layer by layer: ratio %.2f (goal <= 1)%n",
                layerwise.wholeMs(), layerwise.layerwiseMs(), layerwise.ratio()));
        s.append(f("serving loop: %d tokens of hit requests checked, %d logits mismatches; leases at end %d, pins at end %d",
                r.get("serving_tokens_checked"), r.get("serving_logits_mismatches"), r.get("serving_leases_at_end"),
                r.get("serving_pins_at_end")));
        return s.toString();
    }

    private static String ms(Object v) {
        return v == null ? "-" : f("%.1f", ((Number) v).doubleValue());
    }

    private static String ms2(Object v) {
        return v == null ? "-" : f("%.2f", ((Number) v).doubleValue());
    }

    private static String ratio(Object v) {
        return v == null ? "-" : f("%.2fx", ((Number) v).doubleValue());
    }

    private static String f(String format, Object... args) {
        return String.format(Locale.ROOT, format, args);
    }
}
