package org.lmcache4j.bench;

import org.openjdk.jmh.infra.BenchmarkParams;
import org.openjdk.jmh.results.Result;
import org.openjdk.jmh.results.RunResult;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.function.DoubleUnaryOperator;

/**
 * The quick pass's summary: per benchmark class and parameter set, each benchmark's median over
 * rounds (transfers in GB/s = ops/s × chunk bytes / 1e9), and the ratios the goals are stated in,
 * each taken within a round (figures measured minutes apart at most) and then the median.
 */
final class RatioTable {
    static final double GOAL_TRANSFER_RATIO = 0.90;
    static final double GOAL_KEYS_MICROS = 1000;
    static final double GOAL_OVERHEAD_MICROS = 100;
    static final double GOAL_METRICS_MICROS = 2;
    static final double GOAL_DISK_RATIO = 0.80;
    static final double GOAL_REMOTE_RATIO = 0.70;

    private final StringBuilder out = new StringBuilder();
    /** Per method, its results in run order: entry {@code i} is round {@code i}. */
    private Map<String, List<Result<?>>> byMethod;

    private RatioTable() {
    }

    static String of(List<RunResult> results) {
        Map<String, Map<String, List<Result<?>>>> groups = new TreeMap<>();
        Map<String, BenchmarkParams> params = new LinkedHashMap<>();
        for (RunResult r : results) {
            BenchmarkParams p = r.getParams();
            String[] name = p.getBenchmark().split("\\.");
            String group = name[name.length - 2] + paramsOf(p);
            groups.computeIfAbsent(group, g -> new LinkedHashMap<>())
                    .computeIfAbsent(name[name.length - 1], m -> new ArrayList<>()).add(r.getPrimaryResult());
            params.put(group, p);
        }
        RatioTable table = new RatioTable();
        table.out.append("\n== LMCache4j quick pass: medians over rounds, ratios taken within each round\n");
        groups.forEach((group, byMethod) -> table.group(group, byMethod, params.get(group)));
        return table.out.toString();
    }

    private void group(String group, Map<String, List<Result<?>>> methods, BenchmarkParams p) {
        byMethod = methods;
        out.append('\n').append(group).append('\n');
        if (group.startsWith(TransferBenchmark.class.getSimpleName())) {
            long chunkBytes = ScatteredCaches.layoutOf(p.getParam("shape"), Integer.parseInt(p.getParam("numBlocks")))
                    .chunkBytes(ScatteredCaches.CHUNK_TOKENS);
            double gb = chunkBytes / 1e9;
            out.append(String.format("  (%d MiB a chunk; GB/s = ops/s x chunk bytes / 1e9)%n", chunkBytes >> 20));
            methods.forEach((m, rs) -> line(m, rs, s -> s * gb, "GB/s"));
            ratio("engineStore", "bareGatherLoop", GOAL_TRANSFER_RATIO);
            ratio("engineRetrieve", "bareScatterLoop", GOAL_TRANSFER_RATIO);
            ratio("hostTransferGather", "bareGatherLoop", Double.NaN);
            ratio("hostTransferScatter", "bareScatterLoop", Double.NaN);
            ratio("bareGatherLoop", "contiguousColdCopy", Double.NaN);
        } else {
            methods.forEach((m, rs) -> line(m, rs, s -> s, rs.getFirst().getScoreUnit()));
            if (methods.containsKey("chunkKeys")) {
                double keys = median(methods.get("chunkKeys"), s -> s);
                out.append(String.format("  chunkKeys %.0f us per prompt, goal < %.0f us: %s%n", keys, GOAL_KEYS_MICROS,
                        keys < GOAL_KEYS_MICROS ? "met" : "MISSED"));
                ratio("chunkKeys", "sha256OneCall", Double.NaN);
            }
            if (methods.containsKey("lookupHit")) {
                for (String m : new String[]{"lookupHit", "lookupPinUnpin", "retrieveMiss"}) {
                    double us = median(methods.get(m), s -> s);
                    out.append(String.format("  %s %.1f us per request, goal < %.0f us: %s%n", m, us, GOAL_OVERHEAD_MICROS,
                            us < GOAL_OVERHEAD_MICROS ? "met" : "MISSED"));
                }
                ratio("lookupHit2Threads", "lookupHit", Double.NaN);
            }
            if (methods.containsKey("metricsPerRequest") && "true".equals(p.getParam("metrics"))) {
                double us = median(methods.get("metricsPerRequest"), s -> s);
                out.append(String.format("  metrics %.3f us per request, goal < %.0f us: %s%n", us, GOAL_METRICS_MICROS,
                        us < GOAL_METRICS_MICROS ? "met" : "MISSED"));
            }
            if (methods.containsKey("tierWrite")) {
                ratio("tierWrite", "channelWrite", GOAL_DISK_RATIO);
                ratio("tierRead", "channelRead", GOAL_DISK_RATIO);
            }
            if (methods.containsKey("tierPut")) {
                ratio("tierPut", "rawSet", GOAL_REMOTE_RATIO);
                ratio("tierGet", "rawGet", GOAL_REMOTE_RATIO);
            }
        }
    }

    /** Median of the scores (scaled); with one round, its score and JMH's error. */
    private void line(String method, List<Result<?>> rs, DoubleUnaryOperator scale, String unit) {
        String spread = rs.size() == 1
                ? String.format("± %.3f", scale.applyAsDouble(rs.getFirst().getScoreError()))
                : "rounds " + Arrays.toString(rs.stream().mapToDouble(r -> round(scale.applyAsDouble(r.getScore()))).toArray());
        out.append(String.format("  %-22s %9.3f %-6s %s%n", method, median(rs, scale), unit, spread));
    }

    /** {@code a / b} within each round, and their median; the goal, if any, is met by the median. */
    private void ratio(String a, String b, double goal) {
        List<Result<?>> as = byMethod.get(a);
        List<Result<?>> bs = byMethod.get(b);
        if (as == null || bs == null || as.size() != bs.size()) {
            return;
        }
        double[] perRound = new double[as.size()];
        for (int i = 0; i < perRound.length; i++) {
            perRound[i] = round(as.get(i).getScore() / bs.get(i).getScore());
        }
        double median = median(perRound);
        out.append(String.format("  %s / %s = %.2f", a, b, median));
        if (perRound.length > 1) {
            out.append(" (rounds ").append(Arrays.toString(perRound)).append(')');
        }
        if (!Double.isNaN(goal)) {
            out.append(String.format(", goal >= %.2f: %s", goal, median >= goal ? "met" : "MISSED"));
        }
        out.append('\n');
    }

    private static double median(List<Result<?>> rs, DoubleUnaryOperator scale) {
        return median(rs.stream().mapToDouble(r -> scale.applyAsDouble(r.getScore())).toArray());
    }

    private static double median(double[] v) {
        double[] s = v.clone();
        Arrays.sort(s);
        int n = s.length;
        return n % 2 == 1 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
    }

    private static double round(double v) {
        return Math.round(v * 1000) / 1000.0;
    }

    private static String paramsOf(BenchmarkParams p) {
        StringBuilder s = new StringBuilder();
        for (String k : p.getParamsKeys()) {
            s.append(s.isEmpty() ? " [" : ", ").append(k).append('=').append(p.getParam(k));
        }
        return s.isEmpty() ? "" : s.append(']').toString();
    }
}
