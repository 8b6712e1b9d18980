package org.lmcache4j.bench.sim;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.function.IntFunction;

/**
 * The experiments behind the policies section of docs/benchmarks.md: token-weighted prefix hit
 * rates of each policy at each capacity on the Mooncake trace, a chat trace and the document
 * workload. Run from bench/ after test-compile:
 * {@code java -cp target/classes:target/test-classes org.lmcache4j.bench.sim.PolicyLab MOONCAKE CHAT_TRACE...}
 */
public final class PolicyLab {
    private PolicyLab() {
    }

    public static void main(String[] args) throws Exception {
        Map<String, Trace> traces = new LinkedHashMap<>();
        traces.put("mooncake", MooncakeTraces.read(Path.of(args[0]), 512, 256, Integer.MAX_VALUE));
        for (int i = 1; i < args.length; i++) {
            traces.put(Path.of(args[i]).getFileName().toString(), Trace.read(Path.of(args[i])));
        }
        traces.put("documents", new DocumentWorkload(8, 8000, 4, 64, 500, 256, 1).trace());
        traces.put("documents-32x8", new DocumentWorkload(32, 8000, 8, 64, 500, 256, 2).trace());
        traces.put("documents-64x4", new DocumentWorkload(64, 4000, 4, 64, 500, 256, 3).trace());
        for (var t : traces.entrySet()) {
            Trace trace = t.getValue();
            List<Integer> caps = new ArrayList<>();
            if (t.getKey().equals("mooncake")) {
                for (long tokens : new long[]{500_000, 1_000_000, 2_500_000, 5_000_000}) {
                    caps.add((int) (tokens / 256));
                }
            } else {
                for (int pct : new int[]{10, 25, 50, 75}) {
                    caps.add(Math.max(1, trace.distinctKeys() * pct / 100));
                }
            }
            System.out.printf(Locale.ROOT, "%s: %d requests, %d distinct chunks%n", t.getKey(),
                    trace.requests().size(), trace.distinctKeys());
            for (IntFunction<Policy> p : policies(trace)) {
                StringBuilder line = new StringBuilder();
                String name = null;
                for (int c : caps) {
                    SimulationResult r = SimulationResult.run(trace, p.apply(c), c);
                    name = r.policy();
                    line.append(String.format(Locale.ROOT, " | %6d: %5.2f", c, 100 * r.prefixHitRate()));
                }
                System.out.printf(Locale.ROOT, "  %-14s%s%n", name, line);
            }
        }
    }

    static List<IntFunction<Policy>> policies(Trace trace) {
        return List.of(LruPolicy::new, FifoPolicy::new, S3FifoPolicy::new, ArcPolicy::new, AdaptivePolicy::new,
                c -> new BeladyPolicy(c, trace.requests()));
    }
}
