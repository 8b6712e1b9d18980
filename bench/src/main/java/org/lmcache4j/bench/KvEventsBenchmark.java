package org.lmcache4j.bench;

import org.lmcache4j.CacheEngine;
import org.lmcache4j.EngineConfig;
import org.lmcache4j.KvDtype;
import org.lmcache4j.KvFormat;
import org.lmcache4j.KvLayout;
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
import org.openjdk.jmh.annotations.Warmup;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;

/**
 * What recording KV events (for a router) adds to a store, the way the vLLM connector uses them:
 * every store puts new chunks into a full pool, so it also evicts as many, and the events are taken
 * after each store, as vLLM takes them after each step. The layout is tiny (a 256-token chunk is
 * 16 KiB), so the copy does not hide the bookkeeping. Compare {@code events=true} with
 * {@code events=false} in the same run.
 * <pre>
 * java --enable-native-access=ALL-UNNAMED -jar bench/target/benchmarks.jar KvEventsBenchmark
 * </pre>
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Fork(value = 1, jvmArgsAppend = {Ratios.NATIVE_ACCESS, Ratios.QUIET_LOGS, Ratios.SMALL_HEAP})
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
public class KvEventsBenchmark {
    @Param({"false", "true"})
    public boolean events;

    /** Tokens a store adds: 4 chunks, 4 evictions, 8 events. */
    @Param("1024")
    public int tokens;

    private static final KvLayout LAYOUT = new KvLayout(2, 1, 8, KvDtype.FLOAT16, 16, 4096, KvFormat.FLASH_ATTN);
    private static final int PROMPTS = 256;
    private static final int POOL_CHUNKS = 64;

    private Arena arena;
    private CacheEngine engine;
    private int[][] prompts;
    private long[] slots;
    private int next;

    @Setup(Level.Trial)
    public void setUp() {
        arena = Arena.ofShared();
        List<MemorySegment> layers = HostLayers.allocate(arena, LAYOUT);
        engine = CacheEngine.builder().layout(LAYOUT).model("events-bench")
                .config(EngineConfig.builder()
                        .maxLocalCpuSizeGb(POOL_CHUNKS * LAYOUT.chunkBytes(256) / (double) EngineConfig.GB).build())
                .open();
        engine.registerKvCaches(layers);
        engine.recordKvEvents(events);
        slots = new long[tokens];
        for (int t = 0; t < tokens; t++) {
            slots[t] = t;
        }
        Random rnd = new Random(5);
        prompts = new int[PROMPTS][tokens];
        for (int[] p : prompts) {
            for (int i = 0; i < p.length; i++) {
                p[i] = rnd.nextInt(32000);
            }
        }
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        if (engine.stats().leases() != 0) {
            throw new IllegalStateException("leases left: " + engine.stats());
        }
        engine.close();
        arena.close();
    }

    /** A store of a prompt the pool no longer holds (256 prompts cycle through a pool of 16), then the take. */
    @Benchmark
    public int storeAndTake() {
        int[] prompt = prompts[next];
        next = (next + 1) % PROMPTS;
        int stored = engine.store(prompt, slots, 0);
        return stored + engine.takeKvEvents(Long.MAX_VALUE, e -> 1).size();
    }
}
