package org.lmcache4j.bench;

import org.lmcache4j.CacheEngine;
import org.lmcache4j.CudaStream;
import org.lmcache4j.EngineConfig;
import org.lmcache4j.KeyScope;
import org.lmcache4j.KvDtype;
import org.lmcache4j.KvFormat;
import org.lmcache4j.KvLayout;
import org.lmcache4j.cuda.CudaProbe;
import org.lmcache4j.transfer.DeviceMemory;
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
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.TimeUnit;

/**
 * What the device path adds to a request, copies excluded: the same store and retrieve on host
 * caches ({@code path=host}) and on device caches through the CUDA transfer, with rows of 16 bytes
 * so the copies are next to nothing. A store is one fresh 256-token chunk; a retrieve loads a
 * cached prompt of {@code chunks} chunks (one batch). Each op ends when its copies have landed and
 * their chunks are published or pages released ({@code awaitTransfers}), so nothing is left to
 * the next op; the {@code *Call} variants time the call alone (what the serving thread pays: it
 * returns once the copies are queued), the previous op's copies landing before each call, outside
 * the time. Goal: the device path within 100 µs of the host path per request.
 *
 * <p>The device paths need a CUDA driver. Without a GPU, on the CPU-run driver (a test instrument,
 * zero delay): its time then includes the driver's own thread hand-offs, an upper bound on the
 * engine's; no speed of a GPU can be read from it.
 * <pre>
 * LMCACHE4J_CUDA_DRIVER=$PWD/native/build/cuda-emulator/libcuda.so.1 \
 * LMCACHE4J_CUDA_FATBIN=$PWD/native/build/kv_transfer.fatbin \
 *   java --enable-native-access=ALL-UNNAMED -jar bench/target/benchmarks.jar DeviceOverheadBenchmark
 * </pre>
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Fork(value = 1, jvmArgsAppend = {Ratios.NATIVE_ACCESS, Ratios.QUIET_LOGS, Ratios.SMALL_HEAP})
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
public class DeviceOverheadBenchmark {
    @Param({"host", "cuda-kernel", "cuda-dma"})
    public String path;

    /** Chunks of the prompt a retrieve loads: the per-request cost, and what each chunk adds. */
    @Param({"1", "32"})
    public int chunks;

    /** 16-byte rows (one head of 8 fp16): a chunk is 16 KiB and each row one 16-byte move. */
    private static final KvLayout LAYOUT = new KvLayout(2, 1, 8, KvDtype.FLOAT16, 16, 1024, KvFormat.FLASH_ATTN);

    private Arena arena;
    private DeviceMemory memory;
    private final List<Long> device = new ArrayList<>();
    private CacheEngine engine;
    private CudaStream stream = CudaStream.DEFAULT;
    private int[] cached;
    private long[] slots;
    private final Random rnd = new Random(5);

    @Setup(Level.Trial)
    public void setUp() {
        boolean cuda = path.startsWith("cuda");
        EngineConfig config = EngineConfig.builder().maxLocalCpuSizeGb(512 * LAYOUT.chunkBytes(256) / (double) EngineConfig.GB)
                .extraConfig(Map.of("cuda_transfer", cuda ? path.substring(5) : "kernel")).build();
        engine = CacheEngine.builder().layout(LAYOUT).model("device-overhead").config(config).open();
        if (cuda) {
            if (!CudaProbe.system().devicesPresent()) {
                throw new IllegalStateException("path=" + path + " needs a CUDA driver (" + CudaProbe.system().reason()
                        + "): set LMCACHE4J_CUDA_DRIVER, e.g. to native/build/cuda-emulator/libcuda.so.1");
            }
            memory = new DeviceMemory(0);
            for (int l = 0; l < LAYOUT.numLayers(); l++) {
                device.add(memory.allocate(LAYOUT.layerCacheBytes()));
            }
            engine.registerKvCaches(device.stream().mapToLong(Long::longValue).toArray(), 0);
            stream = new CudaStream(memory.createStream());
        } else {
            arena = Arena.ofShared();
            engine.registerKvCaches(HostLayers.allocate(arena, LAYOUT));
        }
        int prompt = chunks * 256;
        slots = new long[prompt];
        for (int t = 0; t < prompt; t++) {
            slots[t] = t % LAYOUT.numSlots();
        }
        cached = tokens(prompt);
        engine.store(KeyScope.NONE, cached, slots, 0, stream);
        engine.awaitTransfers();
        if (engine.lookup(cached) != prompt) {
            throw new IllegalStateException("the pool does not hold the prompt");
        }
    }

    private int[] tokens(int n) {
        int[] t = new int[n];
        for (int i = 0; i < n; i++) {
            t[i] = rnd.nextInt(32000);
        }
        return t;
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        engine.awaitTransfers();
        if (engine.stats().leases() != 0 || engine.stats().pins() != 0) {
            throw new IllegalStateException("leases or pins left: " + engine.stats());
        }
        engine.close();
        if (memory != null) {
            memory.destroyStream(stream.handle());
            device.forEach(memory::free);
            memory.close();
        }
        if (arena != null) {
            arena.close();
        }
    }

    /** Lets the previous op's copies land outside the timed call ({@code *Call} benchmarks). */
    @Setup(Level.Invocation)
    public void landed() {
        engine.awaitTransfers();
    }

    /** What the serving thread pays for a store: the call, which returns once its copies are queued. */
    @Benchmark
    public int storeCall() {
        return engine.store(KeyScope.NONE, tokens(256), java.util.Arrays.copyOf(slots, 256), 0, stream);
    }

    /** What the serving thread pays for a retrieve: the call, which returns once its copies are queued. */
    @Benchmark
    public int retrieveCall() {
        return engine.retrieve(KeyScope.NONE, cached, slots, 0, stream);
    }

    /** One fresh chunk stored and published. */
    @Benchmark
    public int storeChunk() {
        int stored = engine.store(KeyScope.NONE, tokens(256), java.util.Arrays.copyOf(slots, 256), 0, stream);
        engine.awaitTransfers();
        return stored;
    }

    /** The cached prompt loaded, its pages released. */
    @Benchmark
    public int retrieveHit() {
        int loaded = engine.retrieve(KeyScope.NONE, cached, slots, 0, stream);
        engine.awaitTransfers();
        return loaded;
    }
}
