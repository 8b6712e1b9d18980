package org.lmcache4j.metrics;

import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * The engines whose metrics one endpoint serves. An engine joins when it opens with this registry
 * and leaves when it closes; two engines with the same labels would make one series twice, so the
 * second is refused.
 */
public final class MetricsRegistry {
    private final List<EngineMeters> engines = new CopyOnWriteArrayList<>();

    /** Adds an engine's meters; refuses a second engine with the same labels. */
    public synchronized void add(EngineMeters meters) {
        for (EngineMeters e : engines) {
            if (e.labels().equals(meters.labels())) {
                throw new IllegalArgumentException("an engine with metric labels " + meters.labels()
                        + " is already registered: give each engine its own worker id or served model name");
            }
        }
        engines.add(meters);
    }

    public void remove(EngineMeters meters) {
        engines.remove(meters);
    }

    /** Every registered engine's series, in the Prometheus text format (0.0.4). */
    public String scrape() {
        return Exposition.text(List.copyOf(engines));
    }
}
