package org.lmcache4j.cli;

import org.lmcache4j.AccessTrace;
import org.lmcache4j.CacheEngine;
import org.lmcache4j.DiskStats;
import org.lmcache4j.RemoteStats;
import org.lmcache4j.EngineConfig;
import org.lmcache4j.EngineStats;
import org.lmcache4j.KvLayout;
import org.lmcache4j.metrics.MetricsServer;

import java.io.PrintStream;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
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
              --trace FILE         replay a trace instead of the chat: Mooncake JSON lines or a --dump-trace file
                                   (tokens made from the block ids; --trace-block-tokens N per hash_id (512),
                                   --requests N the first N, --time-scale X waits X times the trace's gaps (0, at most 1000))
              --cpu-gb GB          CPU pool size (default: the configuration's max_local_cpu_size)
              --chunk-size N       tokens per chunk (default: the configuration's chunk_size)
              --disk-dir DIR       disk tier directory (local_disk); a second run on it hits from disk
              --disk-gb GB         disk tier size (max_local_disk_size)
              --remote-url URL     remote tier: redis://host:port, redis-cluster://h:p,h:p, … (remote_url)
              --instances N        N engines one after another, each with a cold pool, sharing the remote tier;
                                   with --server, N client processes one after another sharing the server's pool
              --server PATH        run against lmcache4j server at PATH (or unix:///PATH): this process's caches,
                                   the server's engine, whose configuration rules (--config, --cpu-gb, --chunk-size,
                                   --disk-*, --remote-url, --dump-trace, --metrics-port are the server's to set); a
                                   server gone mid-run means misses and skipped stores, and a reconnect (docs/server.md)
              --instance I         the instance's number (its label and block order; --instances sets it in each child)
              --config FILE        LMCache-style YAML configuration (else LMCACHE_CONFIG_FILE, LMCACHE_* variables)
              --blocks N           paged blocks per layer (default: 1.25 x the longest prompt)
              --layers N --kv-heads N --head-size N --dtype D --block-size N --format F
                                   model shape (default Mistral-7B: 32, 8, 128, bfloat16, 16, flash_attn)
              --model NAME         model name, part of every chunk key; 'reference' runs the reference
                                   transformer and measures time to first token with and without the engine
                                   (--size tiny|small|small-mha|medium --workload chat|docs|both --documents N
                                   --document-tokens N --queries N --query-tokens N --plot FILE.svg), then
                                   inter-token latency under continuous batching while hits load from disk (and
                                   Redis with --remote-url), loading synchronously and asynchronously (--serving
                                   on|off|only --decoders N --hit-requests N --hit-prompt-tokens N --hit-every N
                                   --step-tokens N --abort-hits N --plot-itl FILE.svg; docs/benchmarks.md)
              --device D           where the paged caches live: cpu (default), cuda or cuda:N (GPU memory, copied
                                   by the CUDA transfer and ordered with the serving stream; LMCACHE4J_CUDA_DRIVER
                                   names the driver, e.g. the CPU-run test driver native/build/cuda-emulator/libcuda.so.1)
              --cuda-transfer M    kernel (default) or dma (extra_config.cuda_transfer)
              --seed N             workload seed (1)
              --dump-trace FILE    write every chunk access of the CPU tier to FILE (format: docs/benchmarks.md)
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
        String modelName = args.string("model").orElse(DEFAULT_MODEL);
        if (ModelReplay.wants(modelName)) {
            return ModelReplay.run(modelName, args, out, err); // a real model: time to first token
        }
        if (args.string("server").isPresent()) {
            return new ServerReplay(args, out, err).run(); // the engine is lmcache4j server's
        }
        ReplayWorkload workload = workload(args);
        double timeScale = timeScale(args);
        KvLayout layout = layout(args, workload);
        EngineConfig config = LayoutOptions.config(args, layout);
        int device = deviceOption(args.string("device").orElse("cpu"));
        String cudaTransfer = args.string("cuda-transfer").orElse(null);
        if (cudaTransfer != null) {
            java.util.Map<String, Object> extra = new java.util.LinkedHashMap<>(config.extraConfig());
            extra.put(org.lmcache4j.cuda.CudaRuntime.MODE_KEY, cudaTransfer);
            config = config.toBuilder().extraConfig(extra).build();
            org.lmcache4j.cuda.CudaRuntime.mode(config.extraConfig()); // refuses anything but kernel or dma
        }
        String model = args.string("model").orElse(DEFAULT_MODEL);
        boolean json = args.flag("json");
        args.flag("verbose");
        Integer metricsPort = args.string("metrics-port").map(s -> args.integer("metrics-port", 0, 0)).orElse(null);
        if (metricsPort != null && metricsPort > 65_535) {
            throw new IllegalArgumentException("--metrics-port must be at most 65535, got " + metricsPort);
        }
        int instances = args.integer("instances", 1, 1);
        Path traceFile = args.string("dump-trace").map(Path::of).orElse(null);
        if (instances > 1 && config.remoteUrl().isEmpty()) {
            throw new IllegalArgumentException("--instances " + instances + " shares chunks through a remote tier: "
                    + "give --remote-url (or remote_url)");
        }
        if (instances > 1 && traceFile != null) {
            // Every instance replays the same request ids: one trace file would fold them together.
            throw new IllegalArgumentException("--dump-trace records one engine: it cannot be combined with --instances");
        }
        args.finish();
        if (device >= 0) {
            org.lmcache4j.cuda.CudaProbe.Result probe = org.lmcache4j.cuda.CudaProbe.system();
            if (!probe.devicesPresent()) {
                throw new IllegalArgumentException("--device cuda needs a CUDA driver with a device, and "
                        + probe.reason() + " (the CPU-run test driver: make -C native cuda-emulator, then"
                        + " LMCACHE4J_CUDA_DRIVER=native/build/cuda-emulator/libcuda.so.1)");
            }
            if (device >= probe.devices()) {
                throw new IllegalArgumentException("--device cuda:" + device + ": the driver sees " + probe.devices()
                        + " device(s)");
            }
        }

        MetricsServer metrics;
        try {
            metrics = metricsPort == null ? null : MetricsServer.start("0.0.0.0", metricsPort);
        } catch (java.io.UncheckedIOException e) {
            // A port in use is the caller's to change (exit 2), not a wrong byte (exit 1).
            throw new IllegalArgumentException("--metrics-port " + metricsPort + ": " + e.getMessage(), e);
        }
        if (metrics != null) {
            err.println("serving Prometheus metrics on port " + metrics.port() + " at /metrics");
        }
        try (TraceFile trace = traceFile == null ? null : new TraceFile(traceFile)) {
            ReplayRun total = new ReplayRun();
            List<EngineStats> stats = new ArrayList<>();
            EngineStats lastInUse = null;
            List<Map<String, Object>> perInstance = new ArrayList<>();
            boolean clean = true;
            for (int i = 1; i <= instances; i++) {
                EngineConfig own = instances > 1 && config.localDisk().isPresent()
                        ? config.toBuilder().localDisk(Path.of(config.localDisk().get(), "instance-" + i).toString()).build()
                        : config;
                ReplayRun run = new ReplayRun();
                run.trace = trace;
                EngineStats end;
                // Only the last instance reports to the metrics endpoint: the instances share their labels.
                CacheEngine.Builder builder = CacheEngine.builder().config(own).layout(layout).model(model)
                        .accessTrace(trace == null ? AccessTrace.NONE : trace);
                if (metrics != null && i == instances) {
                    builder.metrics(metrics.registry());
                }
                try (ServingEngine serving = device < 0 ? new HostServingEngine(layout, 7L * i)
                        : new DeviceServingEngine(layout, 7L * i, device);
                     CacheEngine engine = builder.open()) {
                    engine.registerKvCaches(serving.addresses(), serving.device());
                    total.transfer = engine.transfer();
                    total.device = serving.deviceLabel();
                    if (serving instanceof DeviceServingEngine d) {
                        total.deviceName = d.deviceName();
                    }
                    MetricsProbe.Scrape before = metrics != null && i == instances
                            ? MetricsProbe.scrape(metrics.port()) : MetricsProbe.Scrape.NONE;
                    run.execute(workload, timeScale, new EmbeddedCache(engine), serving, err,
                            instances > 1 ? "instance " + i + ": " : "");
                    if (metrics != null && i == instances) {
                        total.metricsBefore = before;
                        total.metricsAfter = MetricsProbe.scrape(metrics.port()); // before close: the series leave with the engine
                    }
                    lastInUse = engine.stats(); // the pool as the run left it: close() empties it
                    engine.close(); // waits for the writes in flight (spills hold leases meanwhile)
                    end = engine.stats();
                }
                if (end.leases() > 0 || end.pins() > 0) {
                    err.println("replay: " + end.leases() + " leases and " + end.pins() + " pins outlived the engine");
                    clean = false;
                }
                total.add(run);
                stats.add(end);
                perInstance.add(instanceReport(i, run, end));
            }
            Map<String, Object> report = report(workload, layout, config, stats, lastInUse, total);
            if (instances > 1) {
                report.put("instances", perInstance);
            }
            if (metrics != null) {
                report.put("metrics_port", metrics.port());
                report.put("metrics_series", total.metricsAfter.samples());
                report.put("metrics_dashboard_before", total.metricsBefore.dashboard());
                report.put("metrics_dashboard_after", total.metricsAfter.dashboard());
            }
            out.println(json ? Json.write(report) : Summary.of(report));
            return total.mismatchedBytes == 0 && clean ? 0 : 1;
        } finally {
            if (metrics != null) {
                metrics.close();
            }
        }
    }

    /** The longest trace prompt {@code replay} serves (vLLM's longest context lengths are about 1M tokens). */
    static final int MAX_TRACE_PROMPT_TOKENS = 1 << 21;
    /** The slowest replay of a trace's arrival times: 1000 x its gaps (an hour's trace: 41 days). */
    static final double MAX_TIME_SCALE = 1000;

    /** The model shape of the options, with {@code --blocks} or room for 1.25 x the longest prompt. */
    static KvLayout layout(Args args, ReplayWorkload workload) {
        int defaultBlocks = (int) Math.ceil(1.25 * workload.longestPrompt() / args.integer("block-size", 16, 1)) + 1;
        return LayoutOptions.layout(args, args.integer("blocks", defaultBlocks, 1));
    }

    /** {@code --time-scale}: 0 (no waits) unless given, at most {@link #MAX_TIME_SCALE}. */
    static double timeScale(Args args) {
        double timeScale = args.decimal("time-scale").orElse(0.0);
        if (timeScale > MAX_TIME_SCALE) {
            throw new IllegalArgumentException("--time-scale must be at most " + (int) MAX_TIME_SCALE + ", got " + timeScale);
        }
        return timeScale;
    }

    /** The trace of {@code --trace}, else the chat its options shape. */
    static ReplayWorkload workload(Args args) {
        java.util.Optional<String> trace = args.string("trace");
        if (trace.isPresent()) {
            int blockTokens = args.integer("trace-block-tokens", 512, 1);
            int requests = args.integer("requests", Integer.MAX_VALUE, 1);
            PromptTrace prompts = TraceReader.read(Path.of(trace.get()), blockTokens).first(requests);
            for (int r = 0; r < prompts.prompts().size(); r++) {
                int tokens = prompts.prompts().get(r).tokens();
                if (tokens > MAX_TRACE_PROMPT_TOKENS) {
                    // the replay's paged caches are sized for the longest prompt: a 300M-token line
                    // would allocate tens of GB and be killed, where simulate takes any length
                    throw new IllegalArgumentException(String.format(java.util.Locale.ROOT,
                            "%s: request %d of the trace has %,d prompt tokens; replay serves prompts"
                                    + " of at most %,d tokens (its KV caches hold the longest one); simulate takes"
                                    + " any length", prompts.source(), r + 1, tokens, MAX_TRACE_PROMPT_TOKENS));
                }
            }
            return new TraceWorkload(prompts);
        }
        return new ChatWorkload(args.integer("users", 12, 1), args.integer("rounds", 6, 1),
                args.integer("system-tokens", 1000, 0), args.integer("question-tokens", 400, 1),
                args.integer("answer-tokens", 150, 0), args.integer("seed", 1, 0));
    }

    /** {@code cpu} → -1, {@code cuda} → 0, {@code cuda:N} → N. */
    static int deviceOption(String value) {
        String v = value.trim().toLowerCase(java.util.Locale.ROOT);
        if (v.equals("cpu")) {
            return -1;
        }
        if (v.equals("cuda")) {
            return 0;
        }
        if (v.startsWith("cuda:")) {
            try {
                int d = Integer.parseInt(v.substring(5));
                if (d >= 0) {
                    return d;
                }
            } catch (NumberFormatException e) {
                // falls through to the message below
            }
        }
        throw new IllegalArgumentException("--device must be cpu, cuda or cuda:N, got '" + value + "'");
    }

    private static Map<String, Object> instanceReport(int i, ReplayRun run, EngineStats stats) {
        Map<String, Object> r = new LinkedHashMap<>();
        r.put("instance", i);
        r.put("requests", run.requests);
        r.put("hit_tokens", run.hitTokens);
        r.put("hit_rate", run.requestedTokens == 0 ? 0.0 : (double) run.hitTokens / run.requestedTokens);
        r.put("disk_hit_tokens", stats.diskHitTokens());
        r.put("remote_hit_tokens", stats.remoteHitTokens());
        r.put("mismatched_bytes", run.mismatchedBytes);
        r.put("wall_seconds", run.wallNanos / 1e9);
        return r;
    }

    /**
     * The report over every instance: counts summed, the tiers' state as the last instance left them
     * ({@code all}: each instance's stats after its close; {@code inUse}: the last one's just before).
     */
    private static Map<String, Object> report(ReplayWorkload w, KvLayout layout, EngineConfig config,
                                              List<EngineStats> all, EngineStats inUse, ReplayRun run) {
        EngineStats stats = all.getLast();
        long storedTokens = all.stream().mapToLong(EngineStats::storedTokens).sum();
        Map<String, Object> r = runReport(run, layout, storedTokens);
        r.put("evictions", all.stream().mapToLong(EngineStats::evictions).sum());
        DiskStats disk = stats.disk();
        if (disk.enabled()) {
            r.put("disk_hit_tokens", all.stream().mapToLong(EngineStats::diskHitTokens).sum());
            r.put("spilled_chunks", all.stream().mapToLong(EngineStats::spilledChunks).sum());
            r.put("disk_read_gbps", disk.readGbps());
            r.put("disk_write_gbps", disk.writeGbps());
            r.put("disk_records", disk.records());
            r.put("disk_used_bytes", disk.usedBytes());
            r.put("disk_read_failures", disk.readFailures());
            r.put("disk_write_failures", disk.writeFailures());
            r.put("disk_o_direct", disk.oDirect());
        }
        RemoteStats remote = stats.remote();
        if (remote.enabled()) {
            r.put("remote_hit_tokens", all.stream().mapToLong(EngineStats::remoteHitTokens).sum());
            r.put("remote_reads", all.stream().mapToLong(s -> s.remote().reads()).sum());
            r.put("remote_writes", all.stream().mapToLong(s -> s.remote().writes()).sum());
            r.put("remote_writes_dropped", all.stream().mapToLong(s -> s.remote().writesDropped()).sum());
            r.put("remote_read_failures", all.stream().mapToLong(s -> s.remote().readFailures()).sum());
            r.put("remote_errors", all.stream().mapToLong(s -> s.remote().errors()).sum());
            r.put("remote_write_refusals", all.stream().mapToLong(s -> s.remote().writesRefused()).sum());
            r.put("remote_url", remote.url());
        }
        r.put("store_skipped_chunks", all.stream().mapToLong(EngineStats::storeSkippedChunks).sum());
        r.put("store_declined_chunks", all.stream().mapToLong(EngineStats::storeDeclinedChunks).sum());
        r.put("store_skipped_prompt_over_pool", run.skippedPromptOverPool);
        r.put("store_skipped_pages_held", run.skippedPagesHeld);
        r.put("leases_at_end", all.stream().mapToLong(EngineStats::leases).sum());
        r.put("pins_at_end", all.stream().mapToLong(EngineStats::pins).sum());
        w.describe(r);
        r.put("chunk_size", config.chunkSize());
        r.put("pool_bytes", config.cpuPoolBytes());
        r.put("pool_capacity_chunks", inUse.capacityPages());
        r.put("pool_used_bytes", inUse.usedBytes());
        r.put("pool_chunks", inUse.chunks());
        r.put("layout", layoutName(layout));
        r.put("token_bytes", layout.tokenBytes());
        r.put("store_seconds", run.storeNanos / 1e9);
        r.put("pool_growth_wait_seconds", all.stream().mapToLong(EngineStats::poolGrowthWaitNanos).sum() / 1e9);
        r.put("retrieve_seconds", run.retrieveNanos / 1e9);
        r.put("wall_seconds", run.wallNanos / 1e9);
        return r;
    }

    /** The report's first fields: what the request loop counted, and its bandwidths. */
    static Map<String, Object> runReport(ReplayRun run, KvLayout layout, long storedTokens) {
        Map<String, Object> r = new LinkedHashMap<>();
        r.put("requests", run.requests);
        r.put("device", run.device);
        if (run.deviceName != null) {
            r.put("device_name", run.deviceName);
        }
        r.put("transfer", run.transfer);
        r.put("requested_tokens", run.requestedTokens);
        r.put("hit_tokens", run.hitTokens);
        r.put("hit_rate", run.requestedTokens == 0 ? 0.0 : (double) run.hitTokens / run.requestedTokens);
        r.put("stored_tokens", storedTokens);
        r.put("store_gbps", gbps(storedTokens * layout.tokenBytes(), run.storeNanos));
        r.put("retrieve_gbps", gbps(run.hitTokens * layout.tokenBytes(), run.retrieveNanos));
        r.put("verified_bytes", run.verifiedBytes);
        r.put("mismatched_bytes", run.mismatchedBytes);
        return r;
    }

    /** The layout as the report names it: {@code flash_attn 32x8x128 bfloat16 block 16}. */
    static String layoutName(KvLayout layout) {
        return layout.format().configName() + " " + layout.numLayers() + "x" + layout.numKvHeads() + "x"
                + layout.headSize() + " " + layout.dtype().torchName() + " block " + layout.blockSize();
    }

    static double gbps(long bytes, long nanos) {
        return nanos == 0 ? 0.0 : (double) bytes / nanos;
    }

    /** The request loop, and its tallies (summed over instances by {@link #add}). */
    static final class ReplayRun {
        long requests;
        long requestedTokens;
        long hitTokens;
        long verifiedBytes;
        long mismatchedBytes;
        /** Tokens the stores stored (their answers; the embedded report counts the engines' own). */
        long storedTokens;
        /** Retrieves during which the server went away (their rows past the loaded prefix checked either way). */
        long retrievesLost;
        long storeNanos;
        long retrieveNanos;
        long wallNanos;
        MetricsProbe.Scrape metricsBefore = MetricsProbe.Scrape.NONE;
        MetricsProbe.Scrape metricsAfter = MetricsProbe.Scrape.NONE;
        /** Chunks stores skipped because one prompt's new chunks were more than the pool's pages. */
        long skippedPromptOverPool;
        /** Chunks stores skipped because the pages they could have had were pinned or being copied. */
        long skippedPagesHeld;
        /** The engine's count of skipped chunks after the last store (each instance has its own engine). */
        private long skippedSoFar;
        String device = "cpu";
        String transfer = "host";
        String deviceName;
        TraceFile trace;

        void add(ReplayRun o) {
            requests += o.requests;
            requestedTokens += o.requestedTokens;
            hitTokens += o.hitTokens;
            verifiedBytes += o.verifiedBytes;
            mismatchedBytes += o.mismatchedBytes;
            storedTokens += o.storedTokens;
            retrievesLost += o.retrievesLost;
            storeNanos += o.storeNanos;
            retrieveNanos += o.retrieveNanos;
            wallNanos += o.wallNanos;
            skippedPromptOverPool += o.skippedPromptOverPool;
            skippedPagesHeld += o.skippedPagesHeld;
        }

        /**
         * Sends the workload's requests in order; with a {@code timeScale} above 0 each waits until
         * its arrival time, scaled, has come (1: the trace's pace, 0.1: ten times faster).
         */
        void execute(ReplayWorkload workload, double timeScale, ReplayCache cache, ServingEngine serving,
                     PrintStream progress, String label) {
            SyntheticKv kv = new SyntheticKv(serving.hostView());
            long start = System.nanoTime();
            long lastReport = start;
            for (int i = 0; i < workload.requests(); i++) {
                if (timeScale > 0) {
                    waitUntil(start + (long) (workload.arrivalMs(i) * timeScale * 1e6));
                }
                request(cache, serving, kv, workload.requestId(i), workload.prompt(i));
                long now = System.nanoTime();
                if (now - lastReport > 2_000_000_000L) {
                    lastReport = now;
                    progress.printf("replay: %s%d/%d requests, hit rate %.1f%%, %.1f s%n", label, requests,
                            workload.requests(), 100.0 * hitTokens / Math.max(1, requestedTokens), (now - start) / 1e9);
                }
            }
            wallNanos = System.nanoTime() - start;
        }

        private static void waitUntil(long nanoTime) {
            for (long wait = nanoTime - System.nanoTime(); wait > 0; wait = nanoTime - System.nanoTime()) {
                java.util.concurrent.locks.LockSupport.parkNanos(wait);
            }
        }

        /**
         * One request as a serving engine runs it: fresh blocks (filled with a marker, so a write
         * past the loaded prefix shows), lookup and pin, retrieve, check every loaded byte,
         * "prefill" the rest, store. On a device the marker and the prefill reach the caches on the
         * serving stream, as a forward pass writes them, and the loaded rows are read back after
         * it: a copy the engine did not order with that stream shows as wrong bytes.
         */
        private void request(ReplayCache cache, ServingEngine serving, SyntheticKv kv, String requestId,
                             int[] prompt) {
            long[] hashes = SyntheticKv.prefixHashes(prompt);
            long[] slots = serving.allocate(prompt.length);
            if (trace != null) {
                trace.begin(requestId);
            }
            try {
                for (long slot : slots) {
                    kv.mark(slot);
                }
                serving.toDevice(slots, 0, prompt.length);
                long t0 = System.nanoTime();
                cache.lookupAndPin(requestId, prompt);
                ReplayCache.Retrieved retrieved = cache.retrieve(prompt, slots, serving.stream());
                int loaded = retrieved.tokens();
                cache.unpin(requestId);
                serving.settle(); // on a device, the loads have landed once the stream got past them
                retrieveNanos += System.nanoTime() - t0;
                serving.fromDevice(slots, 0, prompt.length);
                for (int t = 0; t < loaded; t++) {
                    mismatchedBytes += kv.mismatchedBytes(slots[t], hashes[t]);
                }
                for (int t = loaded; t < prompt.length; t++) {
                    // Nothing may land beyond the loaded prefix; after a server lost mid-retrieve, a
                    // row there may also be its token's KV whole (the client's copies ran), never a mix.
                    long stray = kv.strayBytes(slots[t]);
                    mismatchedBytes += stray > 0 && retrieved.lost() ? Math.min(stray, kv.mismatchedBytes(slots[t], hashes[t]))
                            : stray;
                }
                retrievesLost += retrieved.lost() ? 1 : 0;
                verifiedBytes += loaded * kv.tokenBytes();
                for (int t = loaded; t < prompt.length; t++) {
                    kv.write(slots[t], hashes[t]);
                }
                serving.toDevice(slots, loaded, prompt.length);
                long t1 = System.nanoTime();
                storedTokens += cache.store(prompt, slots, serving.stream());
                serving.settle(); // and the stores have read their KV once the stream got past them
                storeNanos += System.nanoTime() - t1;
                // A device store publishes its chunks once its copies have landed, on the engine's
                // completion thread; wait for that, so that the next request's lookup finds them as
                // on the host (a workload of its own, not a speed measurement).
                cache.awaitTransfers();
                countSkipped(cache, prompt.length);
                requests++;
                requestedTokens += prompt.length;
                hitTokens += loaded;
            } finally {
                serving.free(slots);
            }
        }

        /**
         * Why the store that just ran skipped chunks, if it did. The engine counts skipped chunks;
         * the reason follows from the pool's size: if the prompt has more chunks than the pool has
         * pages (a store keeps the prompt's cached prefix, and never evicts it for its suffix), the
         * prompt was too long for the pool; otherwise
         * pages it could have had were held (pinned by a lookup, or leased by a copy, a disk write or
         * a Redis write in flight). The replay runs one request at a time, so the count is its own.
         */
        void countSkipped(ReplayCache cache, int promptTokens) {
            long skippedNow = cache.storeSkippedChunks();
            long skipped = skippedNow - skippedSoFar;
            skippedSoFar = skippedNow;
            if (skipped <= 0) {
                return;
            }
            int chunkSize = cache.chunkSize();
            long promptChunks = (promptTokens + (long) chunkSize - 1) / chunkSize;
            if (promptChunks > cache.capacityPages()) {
                skippedPromptOverPool += skipped;
            } else {
                skippedPagesHeld += skipped;
            }
        }
    }
}
