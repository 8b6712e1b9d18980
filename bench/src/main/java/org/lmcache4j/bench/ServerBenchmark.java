package org.lmcache4j.bench;

import org.lmcache4j.CacheEngine;
import org.lmcache4j.KeyScope;
import org.lmcache4j.KvDtype;
import org.lmcache4j.KvFormat;
import org.lmcache4j.KvLayout;
import org.lmcache4j.bridge.ConfigOverlay;
import org.lmcache4j.memory.SharedSlabSource;
import org.lmcache4j.metrics.MetricsRegistry;
import org.lmcache4j.server.EngineServer;
import org.lmcache4j.server.ServerClient;
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

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.TimeUnit;

/**
 * {@code lmcache4j server} against the embedded engine, side by side in one run: the same layout,
 * settings, prompt and host caches, one engine called in the process ({@code embedded*}), the
 * other through the socket by a {@link ServerClient} that copies through the shared slabs
 * ({@code server*}). The ratios wanted: a lookup of 8k tokens through the socket under 100 µs, and
 * store and retrieve bandwidth of the client ÷ the embedded engine's at least 0.9.
 * <ul>
 *   <li>{@code *Lookup}: a lookup of the whole prompt, every chunk a hit;</li>
 *   <li>{@code *Retrieve}: the whole prompt loaded into the caches;</li>
 *   <li>{@code *Store}: the whole prompt stored into an emptied pool (emptied outside the timing);</li>
 *   <li>{@code embeddedShared*}: the embedded engine with its pool on the server's shared slabs
 *       (memory files), which tells the slabs' cost from the protocol's.</li>
 * </ul>
 * Both engines run in this JVM; the server's copies are the client's, in this JVM too, through
 * its own mappings of the slabs (a C client's are the same copy loops in C).
 * <pre>
 * java --enable-native-access=ALL-UNNAMED -jar bench/target/benchmarks.jar ServerBenchmark -wi 2 -i 3 -w 1 -r 1
 * </pre>
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Fork(value = 1, jvmArgsAppend = {Ratios.NATIVE_ACCESS, Ratios.QUIET_LOGS, Ratios.SMALL_HEAP})
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
public class ServerBenchmark {
    /** 8 layers of 8 KV heads of 128, bfloat16: 32 KiB a token, 8 MiB a 256-token chunk. */
    private static final KvLayout LAYOUT = new KvLayout(8, 8, 128, KvDtype.BFLOAT16, 16, 1024, KvFormat.FLASH_ATTN);
    private static final String SETTINGS = "{\"chunk_size\": 256, \"max_local_cpu_size\": 1.0}";

    @Param("8192")
    public int tokens;

    private Path dir;
    private EngineServer server;
    private ServerClient client;
    private CacheEngine embedded;
    /** The embedded engine with its pool on the server's kind of slabs (shared memory files). */
    private CacheEngine embeddedShared;
    private Arena arena;
    private int[] prompt;
    private long[] slots;

    @Setup
    public void open() throws IOException {
        if (tokens > LAYOUT.numSlots()) {
            throw new IllegalArgumentException("tokens " + tokens + " is more than the caches' " + LAYOUT.numSlots() + " slots");
        }
        dir = Files.createTempDirectory("l4j-server-bench", PosixFilePermissions.asFileAttribute(
                PosixFilePermissions.fromString("rwx------")));
        server = EngineServer.start(dir.resolve("engine.sock"), null, Map.of(), new MetricsRegistry(), Duration.ofSeconds(5));
        arena = Arena.ofShared();
        List<MemorySegment> caches = HostLayers.allocate(arena, LAYOUT);
        Random rnd = new Random(1);
        caches.forEach(c -> {
            for (long off = 0; off + 8 <= c.byteSize(); off += 4096) {
                c.set(java.lang.foreign.ValueLayout.JAVA_LONG_UNALIGNED, off, rnd.nextLong());
            }
        });
        prompt = rnd.ints(tokens, 0, 32000).toArray();
        slots = new long[tokens];
        for (int t = 0; t < tokens; t++) {
            slots[t] = t; // blocks in order: a gather runs whole blocks, as in a warm serving engine
        }
        client = ServerClient.connect(dir.resolve("engine.sock"), "bench", LAYOUT, SETTINGS);
        client.registerKvCaches(caches);
        embedded = CacheEngine.builder().config(ConfigOverlay.load(null, SETTINGS, Map.of())).layout(LAYOUT)
                .model("bench").open();
        embedded.registerKvCaches(caches);
        embeddedShared = CacheEngine.builder().config(ConfigOverlay.load(null, SETTINGS, Map.of())).layout(LAYOUT)
                .model("bench").slabSource(SharedSlabSource.create()).open();
        embeddedShared.registerKvCaches(caches);
        storeBoth();
    }

    private void storeBoth() throws IOException {
        if (client.store(KeyScope.NONE, prompt, slots, 0) != tokens || embedded.store(KeyScope.NONE, prompt, slots, 0) != tokens
                || embeddedShared.store(KeyScope.NONE, prompt, slots, 0) != tokens) {
            throw new IllegalStateException("the prompt was not stored whole");
        }
    }

    /** Before each store: an empty pool, so that the store stores every chunk (not timed). */
    @State(Scope.Benchmark)
    public static class Emptied {
        @Setup(Level.Invocation)
        public void empty(ServerBenchmark b) throws IOException {
            b.client.clear();
            b.embedded.clear();
            b.embeddedShared.clear();
        }
    }

    @Benchmark
    public int embeddedLookup() {
        return embedded.lookup(KeyScope.NONE, prompt);
    }

    @Benchmark
    public int serverLookup() throws IOException {
        return client.lookup(KeyScope.NONE, prompt, null);
    }

    @Benchmark
    public int embeddedRetrieve() {
        return embedded.retrieve(KeyScope.NONE, prompt, slots, 0);
    }

    @Benchmark
    public int embeddedSharedRetrieve() {
        return embeddedShared.retrieve(KeyScope.NONE, prompt, slots, 0);
    }

    @Benchmark
    public int serverRetrieve() throws IOException {
        return client.retrieve(KeyScope.NONE, prompt, slots, 0);
    }

    @Benchmark
    public int embeddedStore(Emptied e) {
        return embedded.store(KeyScope.NONE, prompt, slots, 0);
    }

    @Benchmark
    public int embeddedSharedStore(Emptied e) {
        return embeddedShared.store(KeyScope.NONE, prompt, slots, 0);
    }

    @Benchmark
    public int serverStore(Emptied e) throws IOException {
        return client.store(KeyScope.NONE, prompt, slots, 0);
    }

    @TearDown
    public void close() throws IOException {
        client.close();
        server.close();
        embedded.close();
        embeddedShared.close();
        arena.close();
        Files.deleteIfExists(dir);
    }
}
