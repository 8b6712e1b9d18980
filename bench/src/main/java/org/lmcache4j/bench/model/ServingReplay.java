package org.lmcache4j.bench.model;

import org.lmcache4j.CacheEngine;
import org.lmcache4j.EngineConfig;
import org.lmcache4j.EngineStats;

import java.io.IOException;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.stream.Collectors;
import java.util.stream.Stream;

/**
 * The continuous-batching part of {@code replay --model reference}: background requests keep
 * decoding while requests whose whole prompt sits on the disk tier (and in Redis, with
 * {@code --remote-url}) arrive, served once per loading strategy on a cold CPU pool.
 *
 * <ol>
 *   <li>Populate: the hit requests are served without loading (every position computed) by an
 *       engine whose disk tier is a temporary directory, or which has only Redis below its pool;
 *       their prompts are stored, and closing the engine writes them to disk. Their logits are
 *       the reference.</li>
 *   <li>For each strategy ({@link SyncLoading}, {@link AsyncLoading}): a fresh engine on a copy of
 *       that directory (and the same Redis), its pool empty, serves the background requests
 *       (new prompts each run, so that no run hits what another stored) and the hit requests.</li>
 * </ol>
 * The temporary directory is removed at the end, whatever happened.
 */
final class ServingReplay {
    /** The workload's knobs (the {@code replay} options of the same names). */
    record Settings(int decoders, int decoderPromptTokens, int hitRequests, int hitPromptTokens, int hitOutputTokens,
                    int hitEvery, int stepTokens, int abortHits, int warmupRounds, int measuredRounds,
                    long seed) {
        /** The first hit arrives once the background requests have prefilled and decode. */
        int firstHitStep() {
            return (decoders * decoderPromptTokens + stepTokens - 1) / stepTokens + 4;
        }
    }

    /** Each hit's prompt is served this many times each way for the layer-by-layer TTFT. */
    private static final int LAYERWISE_ROUNDS = 5;

    private ServingReplay() {
    }

    static ServingReport run(ModelShape shape, ReferenceModel model, EngineConfig config, String modelName, Settings s,
                             PrintStream progress) {
        boolean remote = config.remoteUrl().isPresent();
        if (remote) { // keys of this run only: Redis keeps what earlier runs stored, which would turn misses into hits
            modelName += "-" + Long.toHexString(new SplittableRandom().nextLong());
        }
        List<ServingRequest> hits = hits(s, shape.vocab(), remote);
        int blockSize = 16;
        long tokenBytes = shape.kvLayout(blockSize, 1).tokenBytes();
        long hitBytes = hits.stream().mapToLong(r -> r.prompt().length).sum() * tokenBytes;
        Path root = temporaryDirectory();
        try (PagedKvCache cache = new PagedKvCache(shape.kvLayout(blockSize, blocks(s, hits, blockSize)), s.seed())) {
            ServingLoop loop = new ServingLoop(model, cache, s.stepTokens());
            double gb = Math.max(1.0, 4.0 * hitBytes / EngineConfig.GB);
            EngineConfig.Builder populate = config.toBuilder().localCpu(true)
                    .maxLocalCpuSizeGb(Math.max(config.maxLocalCpuSizeGb(), gb)).remoteUrl(null);
            Path populated = root.resolve("populated");
            progress.printf("serving loop: storing %d hit prompts of %d tokens (disk tier in %s%s)%n",
                    hits.stream().filter(r -> !r.kind().poolHit()).count(),
                    s.hitPromptTokens(), root, remote ? ", and Redis" : "");
            List<ServingRun.Outcome> reference = new ArrayList<>();
            reference.addAll(populate(loop, cache, modelName, populate.localDisk(populated.toString())
                    .maxLocalDiskSizeGb(gb).build(), only(hits, ServingRequest.Kind.DISK_HIT)));
            reference.addAll(poolHitReferences(hits, reference));
            if (remote) {
                reference.addAll(populate(loop, cache, modelName, populate.localDisk(null)
                        .remoteUrl(config.remoteUrl().get()).build(), only(hits, ServingRequest.Kind.REMOTE_HIT)));
            }
            List<ServingReport.Mode> modes = new ArrayList<>();
            LayerwiseTtft.Result layerwise = null;
            int runIndex = 0;
            // Warm-up rounds let the JIT compile both paths; measured rounds alternate the modes, so
            // that a busy spell of a shared host falls on both.
            for (int round = 0; round < s.warmupRounds() + s.measuredRounds(); round++) {
                for (String name : List.of("sync", "async")) {
                    Path dir = copy(populated, root.resolve(name + "-" + round));
                    EngineConfig serving = config.toBuilder().localDisk(dir.toString())
                            .maxLocalDiskSizeGb(Math.max(config.maxLocalDiskSizeGb(), gb)).build();
                    List<ServingRequest> requests = new ArrayList<>(background(s, shape.vocab(), ++runIndex));
                    requests.addAll(hits);
                    boolean last = round == s.warmupRounds() + s.measuredRounds() - 1 && name.equals("async");
                    modes.add(serve(loop, cache, modelName, serving, requests, name, round >= s.warmupRounds(), progress));
                    if (last) { // every hit's prompt is in that engine's pool now: full CPU hits
                        layerwise = layerwise(model, cache, modelName, serving, hits, progress);
                    }
                    delete(dir);
                }
            }
            return new ServingReport(reference, modes, layerwise, root.toString(), remote);
        } finally {
            delete(root);
        }
    }

    private static List<ServingRun.Outcome> populate(ServingLoop loop, PagedKvCache cache, String modelName,
                                                     EngineConfig config, List<ServingRequest> hits) {
        List<ServingRequest> alone = new ArrayList<>();
        for (int i = 0; i < hits.size(); i++) { // one after the other, no aborts: every prompt is stored whole
            ServingRequest r = hits.get(i);
            alone.add(new ServingRequest(r.id(), r.kind(), i, r.prompt(), r.outputTokens(), -1));
        }
        try (CacheEngine engine = open(config, modelName, cache)) {
            return loop.run(alone, LoadingStrategy.RECOMPUTE, engine).outcomes();
        }
    }

    private static ServingReport.Mode serve(ServingLoop loop, PagedKvCache cache, String modelName, EngineConfig config,
                                            List<ServingRequest> requests, String name, boolean measured,
                                            PrintStream progress) {
        long start = System.nanoTime();
        ServingRun run;
        CacheEngine engine = open(config, modelName, cache);
        try (engine) {
            if (name.equals("sync")) {
                run = loop.run(requests, new SyncLoading(engine), engine);
            } else {
                Set<String> background = requests.stream()
                        .filter(r -> r.kind() == ServingRequest.Kind.POOL_HIT_BACKGROUND).map(ServingRequest::id)
                        .collect(Collectors.toSet());
                try (AsyncLoading async = new AsyncLoading(engine, background)) {
                    run = loop.run(requests, async, engine);
                }
            }
        }
        EngineStats end = engine.stats();
        if (System.getenv("LMCACHE4J_ITL_STEPS") != null) { // every step, to look into one run
            for (ServingRun.Step st : run.measured()) {
                progress.printf("  %s step at %.1f ms: %.2f ms (%.2f ms beginning loads), %d decoding, %d prefilled%s%n",
                        name, st.startNanos() / 1e6, st.nanos() / 1e6, st.beginNanos() / 1e6, st.decoding(),
                        st.prefill(), st.loading() ? ", a load in flight" : "");
            }
        }
        progress.printf("serving loop, %s loading%s: %d steps, %d with a disk or Redis load in flight (%.1f s)%n", name,
                measured ? "" : " (warm-up)",
                run.steps().size(), run.steps().stream().filter(ServingRun.Step::loading).count(),
                (System.nanoTime() - start) / 1e9);
        return new ServingReport.Mode(run, end, measured);
    }

    /**
     * TTFT of full CPU hits, whole-chunk and layer by layer: an engine on the same tiers fetches
     * each hit's prompt into its pool (a prefetch), then both ways alternate on it.
     */
    private static LayerwiseTtft.Result layerwise(ReferenceModel model, PagedKvCache cache, String modelName,
                                                  EngineConfig config, List<ServingRequest> hits, PrintStream progress) {
        try (CacheEngine engine = open(config, modelName, cache)) {
            List<int[]> prompts = hits.stream().filter(r -> !r.kind().poolHit()).map(ServingRequest::prompt).toList();
            for (int[] p : prompts) {
                try (org.lmcache4j.Prefetch fetch = engine.prefetch(org.lmcache4j.KeyScope.NONE, p)) {
                    fetch.await(java.time.Duration.ofMinutes(1));
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    throw new IllegalStateException("interrupted while fetching the prompts into the pool", e);
                }
            }
            LayerwiseTtft.Result r = LayerwiseTtft.measure(engine, model, cache, prompts, LAYERWISE_ROUNDS);
            progress.printf("full CPU hits, %d each way: TTFT p50 %.2f ms whole-chunk, %.2f ms layer by layer%n",
                    r.samples(), r.wholeMs(), r.layerwiseMs());
            return r;
        }
    }

    private static CacheEngine open(EngineConfig config, String modelName, PagedKvCache cache) {
        CacheEngine engine = CacheEngine.builder().config(config).layout(cache.layout()).model(modelName)
                .slabTargetBytes(64L << 20).open();
        engine.registerKvCaches(cache.layers());
        return engine;
    }

    /**
     * The hit requests: one per {@code hitEvery} steps, disk and Redis in turn; then, every
     * {@code hitEvery / 2} steps, each disk hit that is not aborted comes back twice, its prompt now
     * in the CPU pool (its load left it there): once copied in the step, once in the background
     * (in turn which comes first), to measure both ways side by side. Not with Redis: there every
     * asynchronous lookup runs on a loader thread (a round trip the step must not wait for), so a
     * pool hit is loaded in the background either way.
     */
    private static List<ServingRequest> hits(Settings s, int vocab, boolean remote) {
        List<ServingRequest> out = new ArrayList<>();
        int tiers = remote ? 2 : 1;
        for (int i = 0; i < s.hitRequests() * tiers; i++) {
            ServingRequest.Kind kind = i % tiers == 0 ? ServingRequest.Kind.DISK_HIT : ServingRequest.Kind.REMOTE_HIT;
            int step = s.firstHitStep() + i * s.hitEvery();
            boolean aborts = i >= s.hitRequests() * tiers - s.abortHits();
            String id = (kind == ServingRequest.Kind.DISK_HIT ? "disk-" : "remote-") + i / tiers;
            out.add(new ServingRequest(id, kind, step, Workloads.tokens(new SplittableRandom(s.seed() * 31 + i),
                    s.hitPromptTokens(), vocab), s.hitOutputTokens(), aborts ? step : -1)); // aborted right after its load started
        }
        if (remote) {
            return out;
        }
        List<ServingRequest> again = new ArrayList<>();
        int step = out.isEmpty() ? 0 : out.getLast().arrivalStep() + s.hitEvery();
        for (ServingRequest r : out) {
            if (r.kind() != ServingRequest.Kind.DISK_HIT || r.aborts()) {
                continue;
            }
            List<ServingRequest.Kind> order = again.size() % 4 == 0
                    ? List.of(ServingRequest.Kind.POOL_HIT_IN_STEP, ServingRequest.Kind.POOL_HIT_BACKGROUND)
                    : List.of(ServingRequest.Kind.POOL_HIT_BACKGROUND, ServingRequest.Kind.POOL_HIT_IN_STEP);
            for (ServingRequest.Kind kind : order) {
                String id = (kind == ServingRequest.Kind.POOL_HIT_IN_STEP ? "pool-step-" : "pool-bg-") + r.id();
                again.add(new ServingRequest(id, kind, step, r.prompt(), r.outputTokens(), -1, r.id()));
                step += Math.max(1, s.hitEvery() / 2);
            }
        }
        out.addAll(again);
        return out;
    }

    /** The reference of a pool hit is that of the disk hit whose prompt it repeats (the model is deterministic). */
    private static List<ServingRun.Outcome> poolHitReferences(List<ServingRequest> hits, List<ServingRun.Outcome> disk) {
        List<ServingRun.Outcome> out = new ArrayList<>();
        for (ServingRequest r : hits) {
            if (r.kind().poolHit()) {
                ServingRun.Outcome source = disk.stream().filter(o -> o.request().id().equals(r.after()))
                        .findFirst().orElseThrow();
                out.add(new ServingRun.Outcome(r, r.arrivalStep(), source.loadedTokens(), false, -1, source.ttftNanos(), source.logitBits(),
                        false, false));
            }
        }
        return out;
    }

    /** Open-ended requests that arrive first; prompts differ from run to run. */
    private static List<ServingRequest> background(Settings s, int vocab, int run) {
        List<ServingRequest> out = new ArrayList<>();
        for (int i = 0; i < s.decoders(); i++) {
            out.add(new ServingRequest("background-" + i, ServingRequest.Kind.BACKGROUND, 0,
                    Workloads.tokens(new SplittableRandom(s.seed() * 1_000_003L + run * 1009L + i), s.decoderPromptTokens(), vocab),
                    0, -1));
        }
        return out;
    }

    private static List<ServingRequest> only(List<ServingRequest> hits, ServingRequest.Kind kind) {
        return hits.stream().filter(r -> r.kind() == kind).toList();
    }

    /**
     * Blocks for every request at once, with room for the background requests to decode through
     * every hit's arrival and output, twice over (the asynchronous run takes more steps).
     */
    private static int blocks(Settings s, List<ServingRequest> hits, int blockSize) {
        int lastArrival = hits.stream().mapToInt(ServingRequest::arrivalStep).max().orElse(0);
        long steps = 2L * (lastArrival + s.hitOutputTokens()) + 256;
        long tokens = (long) s.decoders() * (s.decoderPromptTokens() + steps + 2L * blockSize)
                + hits.stream().mapToLong(r -> r.prompt().length + r.outputTokens() + 2L * blockSize).sum();
        long blocks = tokens / blockSize + 8;
        if (blocks > Integer.MAX_VALUE / 4) {
            throw new IllegalArgumentException("the serving loop's workload needs " + blocks + " KV blocks: too many");
        }
        return (int) blocks;
    }

    private static Path temporaryDirectory() {
        try {
            return Files.createTempDirectory("lmcache4j-itl-");
        } catch (IOException e) {
            throw new UncheckedIOException("cannot create a temporary directory for the disk tier", e);
        }
    }

    private static Path copy(Path from, Path to) {
        try (Stream<Path> files = Files.walk(from)) {
            for (Path p : (Iterable<Path>) files::iterator) {
                Path target = to.resolve(from.relativize(p).toString());
                if (Files.isDirectory(p)) {
                    Files.createDirectories(target);
                } else {
                    Files.copy(p, target);
                }
            }
            return to;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot copy the disk tier " + from + " to " + to, e);
        }
    }

    private static void delete(Path root) {
        try (Stream<Path> files = Files.walk(root)) {
            for (Path p : (Iterable<Path>) files.sorted(Comparator.reverseOrder())::iterator) {
                Files.deleteIfExists(p);
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot remove the temporary disk tier " + root, e);
        }
    }
}
