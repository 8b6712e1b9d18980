package org.lmcache4j.metrics;

import org.lmcache4j.EngineStats;

import java.util.List;

/**
 * One metric as prometheus_client defines it: a name without the suffixes the exposition adds
 * ({@code lmcache:num_hit_tokens}, rendered {@code lmcache:num_hit_tokens_total}), its kind, help
 * text, and for a gauge the {@code multiprocess_mode} that sums or picks its values across vLLM's
 * worker processes; for a histogram its upper bounds. Counters and gauges read their value from
 * the engine's statistics and meters, one {@link Series} per value of an extra label (usually one
 * series, without).
 */
public record Family(String name, Kind kind, String help, String gaugeMode, double[] buckets, List<Series> series) {

    public enum Kind {
        COUNTER("counter"), GAUGE("gauge"), HISTOGRAM("histogram");

        public final String typeName;

        Kind(String typeName) {
            this.typeName = typeName;
        }
    }

    /** How a series reads its value: from the engine's statistics, or from its meters. */
    @FunctionalInterface
    public interface Reading {
        double read(EngineStats stats, EngineMeters meters);
    }

    /** One sample of a counter or gauge; {@code label} is empty for none, else one more label and its value. */
    public record Series(String label, String labelValue, Reading reading) {
    }

    static Family counter(String name, String help, Reading reading) {
        return new Family(name, Kind.COUNTER, help, "", new double[0], List.of(new Series("", "", reading)));
    }

    static Family gauge(String name, String mode, String help, Reading reading) {
        return new Family(name, Kind.GAUGE, help, mode, new double[0], List.of(new Series("", "", reading)));
    }

    static Family histogram(String name, String help, double[] buckets) {
        return new Family(name, Kind.HISTOGRAM, help, "", buckets, List.of());
    }

    /** The name the exposition's HELP and TYPE lines carry: counters end in {@code _total}. */
    public String exposedName() {
        return kind == Kind.COUNTER ? name + "_total" : name;
    }
}
