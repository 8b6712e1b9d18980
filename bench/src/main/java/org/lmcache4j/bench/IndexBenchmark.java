package org.lmcache4j.bench;

import org.lmcache4j.CacheEngine;
import org.lmcache4j.EngineConfig;
import org.lmcache4j.KvDtype;
import org.lmcache4j.KvFormat;
import org.lmcache4j.KvLayout;
import org.lmcache4j.metrics.EngineMeters;
import org.lmcache4j.metrics.EngineMetrics;
import org.lmcache4j.metrics.MetricLabels;
import org.lmcache4j.metrics.MetricsRegistry;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Threads;
import org.openjdk.jmh.annotations.Warmup;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.List;
import java.util.Random;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;

/**
 * The engine's own cost per request, copies excluded, and its index under contention. The layout
 * is tiny (a 256-token chunk is 16 KiB), so what is timed is keying, the index walk, pins and
 * bookkeeping; the pool holds {@code prompts} prompts of {@code tokens} tokens.
 * <ul>
 *   <li>{@code lookupHit}: a lookup of a fully cached prompt (8k tokens: 32 chunks keyed and walked);</li>
 *   <li>{@code lookupMiss}: a lookup that misses on its first chunk;</li>
 *   <li>{@code lookupPinUnpin}: what a serving engine's scheduler does per request: lookup, pin, unpin;</li>
 *   <li>{@code retrieveMiss}: a retrieve that finds nothing (validation, keys, the index);</li>
 *   <li>{@code newPromptEvicting}: a request of a prompt never seen on a full pool: its lookup
 *       misses, its store evicts as many chunks as it stores (the eviction policy's whole work);</li>
 *   <li>the {@code 2Threads} variants run the same from two threads on one engine (time per op on each);</li>
 *   <li>{@code metricsPerRequest}: what the metrics record for one request (a lookup, a store and a
 *       retrieve: three histograms, two speeds, the hit-rate histogram), alone.</li>
 * </ul>
 * {@code metrics}: whether the engine records its metrics (bound to a {@link MetricsRegistry}) or
 * not ({@link EngineMetrics#DISABLED}). {@code policy}: the {@code cache_policy}. Goals: under
 * 100 µs per request; metrics under 2 µs of it; a policy within 5 µs of LRU's.
 * <pre>
 * java --enable-native-access=ALL-UNNAMED -jar bench/target/benchmarks.jar IndexBenchmark
 * java --enable-native-access=ALL-UNNAMED -jar bench/target/benchmarks.jar 'IndexBenchmark.(lookupHit|lookupPinUnpin|newPromptEvicting)$' \
 *      -p metrics=false -p policy=LRU,ADAPTIVE -wi 2 -i 3 -w 1 -r 1
 * </pre>
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Fork(value = 1, jvmArgsAppend = {Ratios.NATIVE_ACCESS, Ratios.QUIET_LOGS, Ratios.SMALL_HEAP})
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
public class IndexBenchmark {
    @Param("8192")
    public int tokens;

    @Param("32")
    public int prompts;

    @Param({"false", "true"})
    public boolean metrics;

    @Param({"LRU", "ADAPTIVE"})
    public String policy;

    /** What the engine records into: the same kind of object it holds, measured alone. */
    private EngineMetrics recorder;

    private static final KvLayout LAYOUT = new KvLayout(2, 1, 8, KvDtype.FLOAT16, 16, 4096, KvFormat.FLASH_ATTN);

    private Arena arena;
    private CacheEngine engine;
    private int[][] cached;
    private int[][] unseen;
    private long[] slots;
    /** A prompt that {@link #newPromptEvicting} makes new each time by numbering its first token. */
    private int[] fresh;
    private int freshSeq;

    @Setup(Level.Trial)
    public void setUp() {
        arena = Arena.ofShared();
        List<MemorySegment> layers = HostLayers.allocate(arena, LAYOUT);
        long chunks = (long) prompts * tokens / 256 + 64;
        CacheEngine.Builder builder = CacheEngine.builder().layout(LAYOUT).model("index-bench")
                .config(EngineConfig.builder().cachePolicy(policy).maxLocalCpuSizeGb(chunks * LAYOUT.chunkBytes(256) / (double) EngineConfig.GB)
                        .build());
        if (metrics) {
            builder.metrics(new MetricsRegistry());
        }
        engine = builder.open();
        recorder = metrics ? new EngineMeters(new MetricLabels("index-bench", "0", "worker", ""), engine::stats)
                : EngineMetrics.DISABLED;
        engine.registerKvCaches(layers);
        slots = new long[tokens];
        for (int t = 0; t < tokens; t++) {
            slots[t] = t % LAYOUT.numSlots();
        }
        Random rnd = new Random(3);
        cached = new int[prompts][];
        unseen = new int[prompts][];
        for (int p = 0; p < prompts; p++) {
            cached[p] = tokens(rnd);
            unseen[p] = tokens(rnd);
            engine.store(cached[p], slots, 0);
        }
        fresh = tokens(rnd);
        if (engine.lookup(cached[0]) != tokens) {
            throw new IllegalStateException("the pool does not hold the prompts");
        }
    }

    private int[] tokens(Random rnd) {
        int[] t = new int[tokens];
        for (int i = 0; i < t.length; i++) {
            t[i] = rnd.nextInt(32000);
        }
        return t;
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        if (engine.stats().leases() != 0 || engine.stats().pins() != 0) {
            throw new IllegalStateException("leases or pins left: " + engine.stats());
        }
        engine.close();
        arena.close();
    }

    private int[] any(int[][] set) {
        return set[ThreadLocalRandom.current().nextInt(set.length)];
    }

    @Benchmark
    public int lookupHit() {
        return engine.lookup(any(cached));
    }

    @Benchmark
    @Threads(2)
    public int lookupHit2Threads() {
        return engine.lookup(any(cached));
    }

    @Benchmark
    public int lookupMiss() {
        return engine.lookup(any(unseen));
    }

    @Benchmark
    public int lookupPinUnpin() {
        String id = "r" + Thread.currentThread().threadId();
        int hit = engine.lookupAndPin(id, org.lmcache4j.KeyScope.NONE, any(cached));
        return hit + engine.unpin(id);
    }

    @Benchmark
    @Threads(2)
    public int lookupPinUnpin2Threads() {
        return lookupPinUnpin();
    }

    @Benchmark
    public int retrieveMiss() {
        return engine.retrieve(any(unseen), slots, 0);
    }

    @Benchmark
    public int newPromptEvicting() {
        fresh[0] = 32000 + freshSeq++; // a token no other prompt has: every chunk is new
        return engine.lookup(fresh) + engine.store(fresh, slots, 0);
    }

    @Benchmark
    public void metricsPerRequest() {
        int n = tokens;
        long nanos = 20_000 + (System.nanoTime() & 1023); // a lookup's time, varied so no branch is fixed
        recorder.lookup(n, n / 2, nanos);
        recorder.store(n, n / 2, 16L * n, 10 * nanos);
        recorder.retrieve(n / 2, n / 2, 8L * n, 5 * nanos);
        recorder.prompt(n, n / 4);
    }
}
