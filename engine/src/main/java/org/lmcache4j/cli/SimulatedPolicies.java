package org.lmcache4j.cli;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * The policies {@code simulate} knows, by the name {@code --policy} and the JSON give them:
 * LMCache's {@code cache_policy} values (lru, lfu, fifo, mru), the engine's own (adaptive) and the
 * offline optimum, in the order {@code --policy all} runs them. A new policy is one line here (and a class implementing
 * {@link SimulatedPolicy}).
 */
final class SimulatedPolicies {
    /** Makes a policy over a pool of {@code capacity} chunks, for {@code trace}. */
    interface Factory {
        SimulatedPolicy create(int capacity, ChunkedTrace trace);
    }

    static final String OPTIMUM = "optimum";

    private static final Map<String, Factory> BY_NAME = new LinkedHashMap<>();

    static {
        BY_NAME.put("lru", SimulatedLru::new);
        BY_NAME.put("lfu", SimulatedLfu::new);
        BY_NAME.put("fifo", SimulatedFifo::new);
        BY_NAME.put("mru", SimulatedMru::new);
        BY_NAME.put("adaptive", SimulatedAdaptive::new);
        BY_NAME.put(OPTIMUM, OptimumPolicy::new);
    }

    private SimulatedPolicies() {
    }

    static List<String> names() {
        return List.copyOf(BY_NAME.keySet());
    }

    /** {@code all}, or one name (any case), or several separated by commas. */
    static List<String> select(String option) {
        String v = option.trim().toLowerCase(Locale.ROOT);
        if (v.equals("all")) {
            return names();
        }
        List<String> chosen = List.of(v.split(",")).stream().map(String::trim).distinct().toList();
        for (String name : chosen) {
            if (!BY_NAME.containsKey(name)) {
                throw new IllegalArgumentException("--policy: unknown policy '" + name + "' (policies: "
                        + String.join(", ", names()) + ", or all)");
            }
        }
        return chosen;
    }

    static SimulatedPolicy create(String name, int capacity, ChunkedTrace trace) {
        return BY_NAME.get(name).create(capacity, trace);
    }
}
