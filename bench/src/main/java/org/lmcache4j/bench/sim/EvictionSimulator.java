package org.lmcache4j.bench.sim;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.function.IntFunction;

/**
 * Replays a chunk-key trace against eviction policies and prints their hit rates side by side.
 *
 * <pre>
 * java -cp bench/target/benchmarks.jar org.lmcache4j.bench.sim.EvictionSimulator TRACE
 *      --capacity-chunks N[,N…]   capacities in chunks; N% is a share of the trace's distinct chunks
 *                                 (default 25%,50%,75%)
 * TRACE is a file from {@code lmcache4j replay --dump-trace FILE}, or {@code documents} for the
 * built-in long-document QA workload, shaped by --docs (8) --doc-tokens (8000) --queries (4)
 * --question-tokens (64) --system-tokens (500) --chunk-size (256) --seed (1);
 * --save FILE writes that workload as a trace file.
 * </pre>
 */
public final class EvictionSimulator {
    private EvictionSimulator() {
    }

    public static void main(String[] argv) throws IOException {
        System.exit(run(argv, System.out));
    }

    static int run(String[] argv, PrintStream out) throws IOException {
        if (argv.length == 0 || argv[0].startsWith("--")) {
            out.println("usage: EvictionSimulator TRACE|documents [--capacity-chunks N[,N…]|P%] [workload options]");
            return 2;
        }
        Options o = new Options(argv);
        Trace trace;
        if (argv[0].equals("documents")) {
            trace = new DocumentWorkload(o.integer("docs", 8), o.integer("doc-tokens", 8000), o.integer("queries", 4),
                    o.integer("question-tokens", 64), o.integer("system-tokens", 500), o.integer("chunk-size", 256),
                    o.integer("seed", 1)).trace();
            String save = o.string("save", null);
            if (save != null) {
                trace.write(Path.of(save));
            }
        } else {
            trace = Trace.read(Path.of(argv[0]));
        }
        List<Integer> capacities = new ArrayList<>();
        for (String c : o.string("capacity-chunks", "25%,50%,75%").split(",")) {
            capacities.add(c.endsWith("%")
                    ? Math.max(1, (int) Math.round(trace.distinctKeys() * Double.parseDouble(c.replace("%", "")) / 100))
                    : Integer.parseInt(c));
        }
        o.finish();
        out.printf(Locale.ROOT, "%s: %d requests, %d chunk accesses, %d distinct chunks (the working set)%n",
                argv[0], trace.requests().size(), trace.totalChunks(), trace.distinctKeys());
        if (trace.recordedHitTokens() > 0) {
            long tokens = trace.requests().stream().mapToLong(Trace.Request::totalTokens).sum();
            out.printf(Locale.ROOT, "the engine itself served %.1f%% of the tokens (its LRU at its pool size)%n",
                    100.0 * trace.recordedHitTokens() / tokens);
        }
        List<List<SimulationResult>> rows = new ArrayList<>();
        for (IntFunction<Policy> policy : policies(trace)) {
            List<SimulationResult> row = new ArrayList<>();
            for (int capacity : capacities) {
                row.add(SimulationResult.run(trace, policy.apply(capacity), capacity));
            }
            rows.add(row);
        }
        table(out, "chunk hit rate (%)", trace, capacities, rows, SimulationResult::chunkHitRate);
        table(out, "prefix hit rate, token-weighted (%)", trace, capacities, rows, SimulationResult::prefixHitRate);
        return 0;
    }

    static List<IntFunction<Policy>> policies(Trace trace) {
        return List.of(LruPolicy::new, FifoPolicy::new, S3FifoPolicy::new, ArcPolicy::new,
                c -> new BeladyPolicy(c, trace.requests()));
    }

    private static void table(PrintStream out, String title, Trace trace, List<Integer> capacities,
                              List<List<SimulationResult>> rows,
                              java.util.function.ToDoubleFunction<SimulationResult> rate) {
        out.println();
        out.println(title);
        StringBuilder head = new StringBuilder(String.format(Locale.ROOT, "%-9s", "policy"));
        for (int c : capacities) {
            head.append(String.format(Locale.ROOT, " | %6d ch (%3.0f%%)", c, 100.0 * c / trace.distinctKeys()));
        }
        out.println(head);
        for (List<SimulationResult> row : rows) {
            StringBuilder line = new StringBuilder(String.format(Locale.ROOT, "%-9s", row.getFirst().policy()));
            for (SimulationResult r : row) {
                line.append(String.format(Locale.ROOT, " | %16.1f", 100 * rate.applyAsDouble(r)));
            }
            out.println(line);
        }
    }

    /** {@code --name value} pairs after the trace argument. */
    private static final class Options {
        private final java.util.Map<String, String> values = new java.util.LinkedHashMap<>();

        Options(String[] argv) {
            for (int i = 1; i < argv.length; i += 2) {
                if (!argv[i].startsWith("--") || i + 1 >= argv.length) {
                    throw new IllegalArgumentException("expected --name value, found " + argv[i]);
                }
                values.put(argv[i].substring(2), argv[i + 1]);
            }
        }

        String string(String name, String dflt) {
            String v = values.remove(name);
            return v == null ? dflt : v;
        }

        int integer(String name, int dflt) {
            return Integer.parseInt(string(name, Integer.toString(dflt)));
        }

        void finish() {
            if (!values.isEmpty()) {
                throw new IllegalArgumentException("unknown options " + values.keySet());
            }
        }
    }
}
