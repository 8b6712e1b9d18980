package org.lmcache4j.cli;

import io.micrometer.core.instrument.MeterRegistry;
import org.lmcache4j.CacheEngine;
import org.lmcache4j.DiskStats;
import org.lmcache4j.EngineConfig;
import org.lmcache4j.EngineStats;
import org.lmcache4j.KeyScope;
import org.lmcache4j.KvLayout;
import org.lmcache4j.metrics.MetricsServer;

import java.io.PrintStream;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * {@code lmcache4j replay}: the main job. Replays a multi-round chat through the engine the way a
 * serving engine drives it (lookup and pin, retrieve into freshly allocated blocks, "prefill"
 * the rest, store, free the blocks), checks every byte it loads, and reports what it saw.
 */
final class ReplayCommand {
    static final String USAGE = """
            lmcache4j replay [options]      replay a multi-round chat workload through the engine
              --users N            users (12)                --rounds N          rounds per user (6)
              --system-tokens N    shared system prompt (1000)
              --question-tokens N  new tokens per round (400) --answer-tokens N   answer tokens per round (150)
              --cpu-gb GB          CPU pool size (default: the configuration's max_local_cpu_size)
              --chunk-size N       tokens per chunk (default: the configuration's chunk_size)
              --disk-dir DIR       disk tier directory (local_disk); a second run on it hits from disk
              --disk-gb GB         disk tier size (max_local_disk_size)
              --config FILE        LMCache-style YAML configuration (else LMCACHE_CONFIG_FILE, LMCACHE_* variables)
              --blocks N           paged blocks per layer (default: 1.25 x the longest prompt)
              --layers N --kv-heads N --head-size N --dtype D --block-size N --format F
                                   model shape (default Mistral-7B: 32, 8, 128, bfloat16, 16, flash_attn)
              --model NAME         model name, part of every chunk key
              --seed N             workload seed (1)
              --metrics-port P     serve Prometheus metrics on P during the run
              --json               print one JSON object instead of the summary
              --verbose            log every request (Store skips N tokens and then stores M tokens)
            """;

    static final String DEFAULT_MODEL = "mistralai/Mistral-7B-Instruct-v0.2";

    private final Args args;
    private final PrintStream out;
    private final PrintStream err;

    ReplayCommand(Args args, PrintStream out, PrintStream err) {
        this.args = args;
        this.out = out;
        this.err = err;
    }

    /**
     * Runs the replay; returns the exit status: 1 when any loaded byte was wrong, any byte beyond
     * the loaded prefix was written, or a lease or pin outlived the run.
     */
    int run() {
        ChatWorkload workload = new ChatWorkload(args.integer("users", 12, 1), args.integer("rounds", 6, 1),
                args.integer("system-tokens", 1000, 0), args.integer("question-tokens", 400, 1),
                args.integer("answer-tokens", 150, 0), args.integer("seed", 1, 0));
        int longest = workload.promptLength(workload.rounds - 1);
        int defaultBlocks = (int) Math.ceil(1.25 * longest / args.integer("block-size", 16, 1)) + 1;
        KvLayout layout = LayoutOptions.layout(args, args.integer("blocks", defaultBlocks, 1));
        EngineConfig config = LayoutOptions.config(args);
        String model = args.string("model").orElse(DEFAULT_MODEL);
        boolean json = args.flag("json");
        args.flag("verbose");
        Integer metricsPort = args.string("metrics-port").map(s -> args.integer("metrics-port", 0, 0)).orElse(null);
        args.finish();

        MetricsServer metrics = metricsPort == null ? null : MetricsServer.start("0.0.0.0", metricsPort);
        MeterRegistry registry = metrics == null ? null : metrics.registry();
        try (HostServingEngine serving = new HostServingEngine(layout, 7);
             CacheEngine engine = CacheEngine.builder().config(config).layout(layout).model(model)
                     .meterRegistry(registry).open()) {
            engine.registerKvCaches(serving.addresses());
            if (metrics != null) {
                err.println("serving Prometheus metrics on port " + metrics.port() + " at /metrics");
            }
            ReplayRun run = new ReplayRun(workload, engine, serving, err);
            run.execute();
            Map<String, Object> report = report(workload, layout, config, engine.stats(), run);
            if (metrics != null) {
                report.put("metrics_port", metrics.port());
                report.put("metrics_series", MetricsProbe.countSeries(metrics.port()));
            }
            out.println(json ? Json.write(report) : Summary.of(report));
            engine.close(); // waits for the writes in flight (spills hold leases meanwhile)
            EngineStats end = engine.stats();
            if (end.leases() > 0 || end.pins() > 0) {
                err.println("replay: " + end.leases() + " leases and " + end.pins() + " pins outlived the engine");
            }
            return run.mismatchedBytes == 0 && end.leases() == 0 && end.pins() == 0 ? 0 : 1;
        } finally {
            if (metrics != null) {
                metrics.close();
            }
        }
    }

    private static Map<String, Object> report(ChatWorkload w, KvLayout layout, EngineConfig config,
                                              EngineStats stats, ReplayRun run) {
        Map<String, Object> r = new LinkedHashMap<>();
        r.put("requests", run.requests);
        r.put("requested_tokens", run.requestedTokens);
        r.put("hit_tokens", run.hitTokens);
        r.put("hit_rate", run.requestedTokens == 0 ? 0.0 : (double) run.hitTokens / run.requestedTokens);
        r.put("stored_tokens", stats.storedTokens());
        r.put("store_gbps", gbps(stats.storedTokens() * layout.tokenBytes(), run.storeNanos));
        r.put("retrieve_gbps", gbps(run.hitTokens * layout.tokenBytes(), run.retrieveNanos));
        r.put("verified_bytes", run.verifiedBytes);
        r.put("mismatched_bytes", run.mismatchedBytes);
        r.put("evictions", stats.evictions());
        DiskStats disk = stats.disk();
        if (disk.enabled()) {
            r.put("disk_hit_tokens", stats.diskHitTokens());
            r.put("spilled_chunks", stats.spilledChunks());
            r.put("disk_read_gbps", disk.readGbps());
            r.put("disk_write_gbps", disk.writeGbps());
            r.put("disk_records", disk.records());
            r.put("disk_used_bytes", disk.usedBytes());
            r.put("disk_read_failures", disk.readFailures());
            r.put("disk_write_failures", disk.writeFailures());
            r.put("disk_o_direct", disk.oDirect());
        }
        r.put("store_skipped_chunks", stats.storeSkippedChunks());
        r.put("leases_at_end", stats.leases());
        r.put("pins_at_end", stats.pins());
        r.put("users", w.users);
        r.put("rounds", w.rounds);
        r.put("chunk_size", config.chunkSize());
        r.put("pool_bytes", config.cpuPoolBytes());
        r.put("pool_used_bytes", stats.usedBytes());
        r.put("pool_chunks", stats.chunks());
        r.put("layout", layout.format().configName() + " " + layout.numLayers() + "x" + layout.numKvHeads() + "x"
                + layout.headSize() + " " + layout.dtype().torchName() + " block " + layout.blockSize());
        r.put("token_bytes", layout.tokenBytes());
        r.put("store_seconds", run.storeNanos / 1e9);
        r.put("pool_growth_wait_seconds", stats.poolGrowthWaitNanos() / 1e9);
        r.put("retrieve_seconds", run.retrieveNanos / 1e9);
        r.put("wall_seconds", run.wallNanos / 1e9);
        return r;
    }

    private static double gbps(long bytes, long nanos) {
        return nanos == 0 ? 0.0 : (double) bytes / nanos;
    }

    /** The request loop and its tallies. */
    static final class ReplayRun {
        private final ChatWorkload workload;
        private final CacheEngine engine;
        private final HostServingEngine serving;
        private final PrintStream progress;
        private final SyntheticKv kv;
        long requests;
        long requestedTokens;
        long hitTokens;
        long verifiedBytes;
        long mismatchedBytes;
        long storeNanos;
        long retrieveNanos;
        long wallNanos;

        ReplayRun(ChatWorkload workload, CacheEngine engine, HostServingEngine serving, PrintStream progress) {
            this.workload = workload;
            this.engine = engine;
            this.serving = serving;
            this.progress = progress;
            this.kv = new SyntheticKv(serving.caches());
        }

        void execute() {
            long start = System.nanoTime();
            long lastReport = start;
            for (int round = 0; round < workload.rounds; round++) {
                for (int user = 0; user < workload.users; user++) {
                    request(user, round);
                    long now = System.nanoTime();
                    if (now - lastReport > 2_000_000_000L) {
                        lastReport = now;
                        progress.printf("replay: round %d/%d, %d/%d requests, hit rate %.1f%%, %.1f s%n",
                                round + 1, workload.rounds, requests, workload.requests(),
                                100.0 * hitTokens / Math.max(1, requestedTokens), (now - start) / 1e9);
                    }
                }
            }
            wallNanos = System.nanoTime() - start;
        }

        private void request(int user, int round) {
            int[] prompt = workload.prompt(user, round);
            long[] hashes = SyntheticKv.prefixHashes(prompt);
            long[] slots = serving.allocate(prompt.length);
            String requestId = "user-" + user + "-round-" + round;
            try {
                for (long slot : slots) {
                    kv.mark(slot);
                }
                long t0 = System.nanoTime();
                engine.lookupAndPin(requestId, KeyScope.NONE, prompt);
                int loaded = engine.retrieve(prompt, slots, 0);
                engine.unpin(requestId);
                retrieveNanos += System.nanoTime() - t0;
                for (int t = 0; t < loaded; t++) {
                    mismatchedBytes += kv.mismatchedBytes(slots[t], hashes[t]);
                }
                for (int t = loaded; t < prompt.length; t++) {
                    mismatchedBytes += kv.strayBytes(slots[t]); // nothing may land beyond the loaded prefix
                }
                verifiedBytes += loaded * kv.tokenBytes();
                for (int t = loaded; t < prompt.length; t++) {
                    kv.write(slots[t], hashes[t]);
                }
                long t1 = System.nanoTime();
                engine.store(prompt, slots, 0);
                storeNanos += System.nanoTime() - t1;
                requests++;
                requestedTokens += prompt.length;
                hitTokens += loaded;
            } finally {
                serving.free(slots);
            }
        }
    }
}
