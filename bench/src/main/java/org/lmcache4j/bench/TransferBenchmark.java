package org.lmcache4j.bench;

import org.lmcache4j.transfer.HostKvTransfer;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Warmup;

import java.lang.foreign.MemorySegment;
import java.util.concurrent.TimeUnit;

/**
 * Host transfer of one Mistral-7B chunk (256 tokens, 32 MiB) between paged caches whose 16
 * blocks lie at random over GBs and a pool page. Every benchmark moves the same bytes per
 * operation, so ops/s × {@code chunkBytes} is the bandwidth and the ratios compare like with like:
 *
 * <ul>
 * <li>{@code engineStore} ÷ {@code bareGatherLoop}: what {@code CacheEngine.store} costs on top
 *     of the copies themselves (hashing, index, LRU eviction, leases, run computation);
 * <li>{@code engineRetrieve} ÷ {@code bareScatterLoop}: the same for {@code retrieve};
 * <li>{@code hostTransferGather} and {@code hostTransferScatter}: the engine's copy loop alone,
 *     which splits the engine's overhead into copying and bookkeeping;
 * <li>{@code contiguousColdCopy}: one 32 MiB copy from cold memory, for reference only: reading
 *     32 KiB runs scattered over GBs runs at about half of it on these machines in C as in Java.
 * </ul>
 *
 * <pre>
 * java --enable-native-access=ALL-UNNAMED -jar bench/target/benchmarks.jar TransferBenchmark
 * </pre>
 * or the quick pass with ratios: {@link Ratios}. Needs about 6 GiB of memory ({@code numBlocks}
 * 2048: 4 GiB of caches, 1 GiB of pool or page ring).
 */
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Fork(value = 1, jvmArgsAppend = {Ratios.NATIVE_ACCESS, Ratios.QUIET_LOGS, Ratios.SMALL_HEAP})
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
public class TransferBenchmark {
    private static final HostKvTransfer TRANSFER = new HostKvTransfer();

    @Benchmark
    public int engineStore(FilledEngine engine, ScatteredCaches caches) {
        int stored = engine.store(caches.nextMapping());
        FilledEngine.requireWhole(stored, "store");
        return stored;
    }

    @Benchmark
    public int engineRetrieve(FilledEngine engine, ScatteredCaches caches) {
        int loaded = engine.retrieve(caches.nextMapping());
        FilledEngine.requireWhole(loaded, "retrieve");
        return loaded;
    }

    @Benchmark
    public MemorySegment bareGatherLoop(ScatteredCaches caches, PageRing ring) {
        int m = caches.nextMapping();
        return caches.gather(m, ring.page(m));
    }

    @Benchmark
    public MemorySegment bareScatterLoop(ScatteredCaches caches, PageRing ring) {
        int m = caches.nextMapping();
        return caches.scatter(ring.page(m), m);
    }

    /** {@code HostKvTransfer} alone: what the engine's copy loop costs, without keys, index or leases. */
    @Benchmark
    public MemorySegment hostTransferGather(ScatteredCaches caches, PageRing ring) {
        int m = caches.nextMapping();
        MemorySegment page = ring.page(m);
        TRANSFER.gather(caches.view, caches.slots[m], 0, ScatteredCaches.CHUNK_TOKENS, page);
        return page;
    }

    @Benchmark
    public MemorySegment hostTransferScatter(ScatteredCaches caches, PageRing ring) {
        int m = caches.nextMapping();
        MemorySegment page = ring.page(m);
        TRANSFER.scatter(page, caches.view, caches.slots[m], 0, ScatteredCaches.CHUNK_TOKENS);
        return page;
    }

    @Benchmark
    public MemorySegment contiguousColdCopy(ScatteredCaches caches, PageRing ring) {
        MemorySegment page = ring.page(caches.nextMapping());
        MemorySegment.copy(caches.nextSlice(), 0, page, 0, page.byteSize());
        return page;
    }
}
