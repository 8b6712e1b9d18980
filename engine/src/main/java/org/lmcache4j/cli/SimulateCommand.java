package org.lmcache4j.cli;

import org.lmcache4j.EngineConfig;
import org.lmcache4j.KvLayout;
import org.lmcache4j.config.ConfigLoader;

import java.io.PrintStream;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * {@code lmcache4j simulate}: the hit rate each eviction policy would reach on a trace, for pool
 * sizes given in tokens or in GB of KV of a model shape, with the ceilings (a pool that never
 * evicts, and the offline optimum). It answers "how big a pool does my traffic need?" without
 * running the engine: the simulated LRU is the engine's (a test holds {@code replay --trace} to it).
 */
final class SimulateCommand {
    static final String USAGE = """
            lmcache4j simulate --trace FILE [options]   hit rate of each eviction policy on a trace, by pool size
              --trace FILE         Mooncake JSON lines (timestamp, input_length, output_length, hash_ids), or a
                                   file written by replay --dump-trace
              --trace-block-tokens N  tokens per Mooncake hash_id (512)
              --requests N         only the first N requests
              --capacity-tokens N[,N...]  pool sizes in tokens of KV (whole chunks)
              --capacity-gb GB[,GB...]    pool sizes in GB (1024^3 bytes) of KV of the model shape
                                   (neither: the configuration's max_local_cpu_size)
              --layers N --kv-heads N --head-size N --dtype D
                                   model shape for --capacity-gb (default Mistral-7B: 32, 8, 128, bfloat16)
              --chunk-size N       tokens per chunk (default: the configuration's chunk_size)
              --config FILE        LMCache-style YAML configuration (chunk_size, save_unfull_chunk, max_local_cpu_size)
              --policy NAME|all    %s, or several with commas (all)
              --plot FILE.svg      draw hit rate against pool size, one line per policy
              --json               print one JSON object: prompt_tokens, infinite_hit_rate, default_policy, results
            """.formatted(String.join(", ", SimulatedPolicies.names()));

    private final Args args;
    private final PrintStream out;
    private final PrintStream err;
    private final long progressEveryNanos;

    SimulateCommand(Args args, PrintStream out, PrintStream err, long progressEveryNanos) {
        this.args = args;
        this.out = out;
        this.err = err;
        this.progressEveryNanos = progressEveryNanos;
    }

    /** A pool size: its chunks, and the tokens it is reported as. */
    record Capacity(int chunks, long tokens) {
    }

    /** One policy at one capacity. */
    record Result(String policy, Capacity capacity, long hitTokens) {
    }

    int run() {
        Path file = Path.of(args.string("trace").orElseThrow(() ->
                new IllegalArgumentException("simulate needs --trace FILE (lmcache4j simulate --help)")));
        int blockTokens = args.integer("trace-block-tokens", 512, 1);
        int requests = args.integer("requests", Integer.MAX_VALUE, 1);
        EngineConfig config = ConfigLoader.loadSourced(args.string("config").map(Path::of), System.getenv()).config();
        int chunkSize = args.integer("chunk-size", config.chunkSize(), 1);
        config = config.toBuilder().chunkSize(chunkSize).build();
        KvLayout layout = LayoutOptions.layout(args, 1);
        List<Capacity> capacities = SimulationCapacities.parse(args, config, layout);
        List<String> policies = SimulatedPolicies.select(args.string("policy").orElse("all"));
        Path plot = args.string("plot").map(Path::of).orElse(null);
        boolean json = args.flag("json");
        args.flag("verbose");
        args.finish();

        PromptTrace prompts = TraceReader.read(file, blockTokens).first(requests);
        ChunkedTrace trace = ChunkedTrace.of(prompts, chunkSize, config.saveUnfullChunk());
        long promptTokens = trace.promptTokens();
        long infinite = Simulation.infiniteHitTokens(trace);
        List<Result> results = new ArrayList<>();
        long start = System.nanoTime();
        long[] lastReport = {start};
        int runs = policies.size() * capacities.size();
        for (String policy : policies) {
            for (Capacity capacity : capacities) {
                String label = String.format(Locale.ROOT, "%s at %,d tokens (%d of %d)", policy, capacity.tokens(),
                        results.size() + 1, runs);
                Simulation.Progress progress = (done, total) -> {
                    long now = System.nanoTime();
                    if (((done & 255) == 0 || done == total) && now - lastReport[0] >= progressEveryNanos) {
                        lastReport[0] = now;
                        err.printf(Locale.ROOT, "simulate: %s: %,d/%,d requests, %.1f s%n", label, done, total,
                                (now - start) / 1e9);
                    }
                };
                SimulatedPolicy p = SimulatedPolicies.create(policy, capacity.chunks(), trace);
                results.add(new Result(policy, capacity, Simulation.hitTokens(trace, p, progress)));
            }
        }
        String defaultPolicy = EngineConfig.builder().build().cachePolicy().toLowerCase(Locale.ROOT);
        if (plot != null) {
            HitRatePlot.write(plot, file.getFileName().toString(), results, promptTokens, infinite, defaultPolicy);
        }
        if (json) {
            out.println(Json.write(report(promptTokens, infinite, defaultPolicy, results)));
        } else {
            out.print(table(prompts, trace, infinite, defaultPolicy, capacities, policies, results, layout));
        }
        return 0;
    }

    private static Map<String, Object> report(long promptTokens, long infinite, String defaultPolicy,
                                              List<Result> results) {
        Map<String, Object> r = new LinkedHashMap<>();
        r.put("prompt_tokens", promptTokens);
        r.put("infinite_hit_rate", rate(infinite, promptTokens));
        r.put("default_policy", defaultPolicy);
        List<Map<String, Object>> rows = new ArrayList<>();
        for (Result result : results) {
            Map<String, Object> row = new LinkedHashMap<>();
            row.put("policy", result.policy());
            row.put("capacity_tokens", result.capacity().tokens());
            row.put("hit_rate", rate(result.hitTokens(), promptTokens));
            rows.add(row);
        }
        r.put("results", rows);
        return r;
    }

    static double rate(long hits, long tokens) {
        return tokens == 0 ? 0.0 : (double) hits / tokens;
    }

    private static String table(PromptTrace prompts, ChunkedTrace trace, long infinite, String defaultPolicy,
                                List<Capacity> capacities, List<String> policies, List<Result> results,
                                KvLayout layout) {
        long tokens = trace.promptTokens();
        StringBuilder sb = new StringBuilder();
        sb.append(String.format(Locale.ROOT, "%s: %,d requests, %,d prompt tokens, %,d distinct chunks of %d tokens"
                        + " (%s of KV at %s)%n", prompts.source(), trace.requests(), tokens, trace.chunks(),
                trace.chunkSize, Units.size((double) trace.chunks() * layout.chunkBytes(trace.chunkSize)),
                shape(layout)));
        sb.append(String.format(Locale.ROOT, "a pool that never evicts: %.1f%% hit rate (the ceiling at any size)%n%n",
                100 * rate(infinite, tokens)));
        sb.append(String.format(Locale.ROOT, "prefix hit rate, %% of prompt tokens, by pool size (tokens, KV)%n"));
        sb.append(String.format(Locale.ROOT, "%-16s", "policy"));
        for (Capacity c : capacities) {
            sb.append(String.format(Locale.ROOT, " | %,12d", c.tokens()));
        }
        sb.append(String.format(Locale.ROOT, "%n%-16s", ""));
        for (Capacity c : capacities) {
            sb.append(String.format(Locale.ROOT, " | %12s", Units.size((double) c.chunks() * layout.chunkBytes(trace.chunkSize))));
        }
        sb.append(System.lineSeparator());
        for (String policy : policies) {
            String name = policy.equals(defaultPolicy) ? policy + " (default)" : policy;
            sb.append(String.format(Locale.ROOT, "%-16s", name));
            for (Result r : results) {
                if (r.policy().equals(policy)) {
                    sb.append(String.format(Locale.ROOT, " | %12.1f", 100 * rate(r.hitTokens(), tokens)));
                }
            }
            sb.append(System.lineSeparator());
        }
        return sb.toString();
    }

    private static String shape(KvLayout layout) {
        return layout.numLayers() + "x" + layout.numKvHeads() + "x" + layout.headSize() + " "
                + layout.dtype().torchName();
    }
}
