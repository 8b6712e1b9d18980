package org.lmcache4j.metrics;

import org.lmcache4j.EngineStats;

import java.util.ArrayList;
import java.util.List;

/**
 * Renders engines' metrics as prometheus_client renders LMCache's: {@code # HELP} and
 * {@code # TYPE} once per metric, then each engine's samples with LMCache's labels (escaped: a
 * model name with quotes, newlines or backslashes stays one valid sample); counters as
 * {@code name_total}, histograms as cumulative {@code _bucket{le=…}} lines, {@code _count} and
 * {@code _sum}. No {@code _created} samples: vLLM's multiprocess collection, where LMCache's
 * metrics are read, has none either. Also the JSON the Python mirror reads.
 */
final class Exposition {
    private Exposition() {
    }

    static String text(List<EngineMeters> engines) {
        List<EngineStats> stats = new ArrayList<>(engines.size());
        for (EngineMeters e : engines) {
            stats.add(e.stats()); // once per engine and scrape: one consistent view for all its series
        }
        StringBuilder out = new StringBuilder(16 * 1024);
        for (Family f : MetricCatalog.FAMILIES) {
            String name = f.exposedName();
            out.append("# HELP ").append(name).append(' ').append(escapeHelp(f.help())).append('\n');
            out.append("# TYPE ").append(name).append(' ').append(f.kind().typeName).append('\n');
            for (int i = 0; i < engines.size(); i++) {
                EngineMeters e = engines.get(i);
                if (f.kind() == Family.Kind.HISTOGRAM) {
                    histogram(out, f, e);
                } else {
                    for (Family.Series s : f.series()) {
                        sample(out, name, e.labels(), s.label(), s.labelValue(), s.reading().read(stats.get(i), e));
                    }
                }
            }
        }
        return out.toString();
    }

    private static void histogram(StringBuilder out, Family f, EngineMeters e) {
        FixedHistogram.Snapshot h = e.histogram(f).snapshot();
        double[] bounds = f.buckets();
        long cumulative = 0;
        for (int b = 0; b <= bounds.length; b++) {
            cumulative += h.counts()[b];
            String le = b < bounds.length ? GoFloat.format(bounds[b]) : "+Inf";
            sample(out, f.name() + "_bucket", e.labels(), "le", le, cumulative);
        }
        sample(out, f.name() + "_count", e.labels(), "", "", cumulative);
        sample(out, f.name() + "_sum", e.labels(), "", "", h.sum());
    }

    private static void sample(StringBuilder out, String name, MetricLabels labels, String extra, String extraValue,
                               double value) {
        out.append(name).append('{');
        List<String> values = labels.values();
        for (int i = 0; i < values.size(); i++) {
            label(out, MetricLabels.NAMES.get(i), values.get(i));
            out.append(',');
        }
        if (!extra.isEmpty()) {
            label(out, extra, extraValue);
            out.append(',');
        }
        out.setLength(out.length() - 1);
        out.append("} ").append(GoFloat.format(value)).append('\n');
    }

    private static void label(StringBuilder out, String name, String value) {
        out.append(name).append("=\"").append(escapeLabel(value)).append('"');
    }

    /** The text format's label-value escapes: backslash, double quote and line feed. */
    static String escapeLabel(String v) {
        return v.replace("\\", "\\\\").replace("\n", "\\n").replace("\"", "\\\"");
    }

    /** The text format's HELP escapes: backslash and line feed. */
    static String escapeHelp(String v) {
        return v.replace("\\", "\\\\").replace("\n", "\\n");
    }

    /**
     * One engine's values: {@code {"metrics": [{name, type, help, mode, label, samples: [[label value,
     * value]]}, {name, type: histogram, help, buckets, counts (per bucket, then +Inf), sum}]}}.
     */
    static String json(EngineMeters e) {
        EngineStats stats = e.stats();
        StringBuilder out = new StringBuilder(8 * 1024).append("{\"metrics\": [");
        boolean first = true;
        for (Family f : MetricCatalog.FAMILIES) {
            out.append(first ? "" : ", ").append("{\"name\": ").append(jsonString(f.name()))
                    .append(", \"type\": \"").append(f.kind().typeName).append("\", \"help\": ")
                    .append(jsonString(f.help()));
            first = false;
            if (f.kind() == Family.Kind.HISTOGRAM) {
                FixedHistogram.Snapshot h = e.histogram(f).snapshot();
                out.append(", \"buckets\": ").append(numbers(f.buckets())).append(", \"counts\": [");
                for (int b = 0; b < h.counts().length; b++) {
                    out.append(b == 0 ? "" : ", ").append(h.counts()[b]);
                }
                out.append("], \"sum\": ").append(GoFloat.pythonRepr(h.sum())).append('}');
                continue;
            }
            out.append(", \"mode\": ").append(jsonString(f.gaugeMode())).append(", \"label\": ")
                    .append(jsonString(f.series().getFirst().label())).append(", \"samples\": [");
            for (int i = 0; i < f.series().size(); i++) {
                Family.Series s = f.series().get(i);
                out.append(i == 0 ? "[" : ", [").append(jsonString(s.labelValue())).append(", ")
                        .append(GoFloat.pythonRepr(s.reading().read(stats, e))).append(']');
            }
            out.append("]}");
        }
        return out.append("]}").toString();
    }

    private static String numbers(double[] values) {
        StringBuilder b = new StringBuilder("[");
        for (int i = 0; i < values.length; i++) {
            b.append(i == 0 ? "" : ", ").append(GoFloat.pythonRepr(values[i]));
        }
        return b.append(']').toString();
    }

    private static String jsonString(String s) {
        StringBuilder b = new StringBuilder(s.length() + 2).append('"');
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c == '"' || c == '\\') {
                b.append('\\').append(c);
            } else if (c < 0x20) {
                b.append(String.format("\\u%04x", (int) c));
            } else {
                b.append(c);
            }
        }
        return b.append('"').toString();
    }
}
