package org.lmcache4j.bench.model;

import org.lmcache4j.CacheEngine;
import org.lmcache4j.EngineConfig;
import org.lmcache4j.EngineStats;
import org.lmcache4j.KeyScope;
import org.lmcache4j.KvLayout;
import org.lmcache4j.cli.ReplayModel;

import java.io.IOException;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * {@code lmcache4j replay --model reference}: serves the chat and document-QA workloads with the
 * {@link ReferenceModel}, each request twice in a row on the same prompt (a full prefill without
 * the engine, then lookup, retrieve, prefill of the rest and store with it), and reports time to
 * first token per round, the speedup, the engine's own time per request, and whether the logits
 * of the two ever differed. Interleaving the two runs gives both the same JIT and cache state.
 */
public final class ReferenceReplay implements ReplayModel {
    private static final long MB = 1 << 20;

    @Override
    public String name() {
        return "reference";
    }

    @Override
    public Map<String, String> options() {
        Map<String, String> o = new LinkedHashMap<>();
        o.put("size", "small");
        o.put("workload", "both");
        o.put("users", "3");
        o.put("rounds", "4");
        o.put("system-tokens", "256");
        o.put("question-tokens", "64");
        o.put("answer-tokens", "64");
        o.put("documents", "2");
        o.put("document-tokens", "2048");
        o.put("queries", "3");
        o.put("query-tokens", "32");
        o.put("block-size", "16");
        o.put("seed", "1");
        o.put("plot", "");
        o.put("serving", "on");
        o.put("decoders", "4");
        o.put("decoder-prompt-tokens", "192");
        o.put("hit-requests", "4");
        o.put("hit-prompt-tokens", "2048");
        o.put("hit-output-tokens", "16");
        o.put("hit-every", "24");
        o.put("step-tokens", "256");
        o.put("abort-hits", "0");
        o.put("serving-warmup", "1");
        o.put("serving-rounds", "2");
        o.put("plot-itl", "");
        return o;
    }

    @Override
    public Result replay(Map<String, String> o, EngineConfig config, PrintStream progress) {
        ModelShape shape = ModelShape.named(o.get("size"));
        String serving = o.get("serving");
        if (!List.of("on", "off", "only").contains(serving)) {
            throw new IllegalArgumentException("--serving must be on, off or only, got '" + serving + "'");
        }
        ServingReplay.Settings settings = servingSettings(o);
        ReferenceModel model = new ReferenceModel(shape);
        Map<String, Object> json = new LinkedHashMap<>();
        StringBuilder table = new StringBuilder();
        boolean ok = true;
        if (!serving.equals("only")) {
            ReferenceReplayReport report = ttft(o, shape, model, config, progress);
            json.putAll(report.json());
            table.append(report.table());
            ok = report.ok();
        }
        if (!serving.equals("off")) {
            ServingReport report = ServingReplay.run(shape, model, config, "reference-" + o.get("size"), settings, progress);
            report.addTo(json);
            table.append(report.table());
            ok &= report.ok();
            write(o.get("plot-itl"), () -> ItlPlot.svg(report.measured(), "Inter-token latency while requests load from"
                    + (config.remoteUrl().isPresent() ? " disk and Redis" : " disk") + ", reference model ("
                    + o.get("size") + ")"));
        }
        return new Result(json, table.toString(), ok);
    }

    /** Each request served twice, without and with the engine: time to first token per round. */
    private static ReferenceReplayReport ttft(Map<String, String> o, ModelShape shape, ReferenceModel model,
                                              EngineConfig config, PrintStream progress) {
        List<Workloads.Request> requests = requests(o, shape.vocab());
        int longest = requests.stream().mapToInt(r -> r.prompt().length).max().orElse(1);
        int blockSize = positive(o, "block-size");
        KvLayout layout = shape.kvLayout(blockSize, 2 * ((longest + blockSize - 1) / blockSize) + 1);
        List<TtftSample> samples = new ArrayList<>();
        EngineStats end;
        try (PagedKvCache cache = new PagedKvCache(layout, positive(o, "seed"));
             CacheEngine engine = CacheEngine.builder().config(config).layout(layout).model("reference-" + o.get("size"))
                     .slabTargetBytes(64 * MB).open()) {
            engine.registerKvCaches(cache.layers());
            ModelServer server = new ModelServer(model, cache);
            warmUp(server, engine, shape, longest);
            long start = System.nanoTime();
            for (Workloads.Request r : requests) {
                ModelServer.Served without = server.serve(r.prompt(), null);
                ModelServer.Served with = server.serve(r.prompt(), engine);
                samples.add(new TtftSample(r.workload(), r.round(), r.prompt().length, with.loadedTokens(),
                        without.ttftNanos(), with.ttftNanos(), with.lookupNanos(), with.retrieveNanos(),
                        with.storeNanos(), Arrays.equals(without.logitBits(), with.logitBits())));
                progress.printf("replay: %s round %d, %d tokens, %d from the engine: TTFT %.1f ms without, %.1f ms with"
                        + " (%.0f s)%n", r.workload(), r.round() + 1, r.prompt().length, with.loadedTokens(),
                        without.ttftNanos() / 1e6, with.ttftNanos() / 1e6, (System.nanoTime() - start) / 1e9);
            }
            engine.close();
            end = engine.stats();
        }
        ReferenceReplayReport report = new ReferenceReplayReport(shape, layout, config, samples, end);
        write(o.get("plot"), () -> TtftPlot.svg(report.bars(), "Time to first token, reference model ("
                + o.get("size") + "), p50 per round"));
        return report;
    }

    private static ServingReplay.Settings servingSettings(Map<String, String> o) {
        int hits = positive(o, "hit-requests");
        int aborts = count(o, "abort-hits");
        if (aborts > hits) {
            throw new IllegalArgumentException("--abort-hits must be at most --hit-requests (" + hits + "), got " + aborts);
        }
        return new ServingReplay.Settings(positive(o, "decoders"), positive(o, "decoder-prompt-tokens"), hits,
                positive(o, "hit-prompt-tokens"), positive(o, "hit-output-tokens"), positive(o, "hit-every"),
                positive(o, "step-tokens"), aborts, count(o, "serving-warmup"), positive(o, "serving-rounds"),
                positive(o, "seed"));
    }

    /** Writes the plot {@code svg} makes to {@code file}, unless no file was asked for. */
    private static void write(String file, java.util.function.Supplier<String> svg) {
        if (file.isBlank()) {
            return;
        }
        try {
            Files.writeString(Path.of(file), svg.get());
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write the plot to " + file, e);
        }
    }

    private static List<Workloads.Request> requests(Map<String, String> o, int vocab) {
        String workload = o.get("workload");
        if (!List.of("chat", "docs", "both").contains(workload)) {
            throw new IllegalArgumentException("--workload must be chat, docs or both, got '" + workload + "'");
        }
        long seed = positive(o, "seed");
        List<Workloads.Request> all = new ArrayList<>();
        if (!workload.equals("docs")) {
            all.addAll(Workloads.chat(positive(o, "users"), positive(o, "rounds"), count(o, "system-tokens"),
                    positive(o, "question-tokens"), count(o, "answer-tokens"), vocab, seed));
        }
        if (!workload.equals("chat")) {
            all.addAll(Workloads.documents(positive(o, "documents"), positive(o, "document-tokens"),
                    positive(o, "queries"), positive(o, "query-tokens"), vocab, seed));
        }
        return all;
    }

    /**
     * A few full prefills and a few thousand lookups of prompts never stored, so that neither the
     * model nor the engine's lookup path is measured before the JIT compiled it (a server calls
     * lookup millions of times). The pool stays empty: warm-up stores nothing.
     */
    private static void warmUp(ModelServer server, CacheEngine engine, ModelShape shape, int longest) {
        SplittableRandom rnd = new SplittableRandom(99);
        for (int i = 0; i < 3; i++) {
            server.serve(rnd.ints(Math.min(longest, 512), 0, shape.vocab()).toArray(), null);
        }
        int[] prompt = rnd.ints(longest, 0, shape.vocab()).toArray();
        for (int i = 0; i < 5000; i++) {
            prompt[0] = i;
            engine.lookupAndPin("warm-up", KeyScope.NONE, prompt);
            engine.unpin("warm-up");
        }
    }

    private static int positive(Map<String, String> o, String name) {
        int v = count(o, name);
        if (v < 1) {
            throw new IllegalArgumentException("--" + name + " must be at least 1, got " + v);
        }
        return v;
    }

    private static int count(Map<String, String> o, String name) {
        try {
            int v = Integer.parseInt(o.get(name).trim());
            if (v < 0) {
                throw new NumberFormatException();
            }
            return v;
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("--" + name + " must be a whole number, got '" + o.get(name) + "'");
        }
    }
}
