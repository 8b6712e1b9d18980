package org.lmcache4j.metrics;

import java.util.List;
import java.util.Objects;

/**
 * The labels LMCache's {@code PrometheusLogger} puts on every series, with an engine's values:
 * the model, the worker's rank, its role in vLLM ({@code worker} for an engine over a worker's
 * caches) and vLLM's served model name ({@code ""} when there is none).
 */
public record MetricLabels(String modelName, String workerId, String role, String servedModelName) {
    /** LMCache's label names, in its order. */
    public static final List<String> NAMES = List.of("model_name", "worker_id", "role", "served_model_name");

    public MetricLabels {
        Objects.requireNonNull(modelName, "model_name");
        Objects.requireNonNull(workerId, "worker_id");
        Objects.requireNonNull(role, "role");
        Objects.requireNonNull(servedModelName, "served_model_name");
    }

    public List<String> values() {
        return List.of(modelName, workerId, role, servedModelName);
    }
}
