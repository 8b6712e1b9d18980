package org.lmcache4j.bench;

import org.lmcache4j.KvLayout;
import org.lmcache4j.memory.ChunkPool;
import org.lmcache4j.memory.PageLease;
import org.lmcache4j.memory.SlabRegistrar;
import org.lmcache4j.memory.SlabSource;
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

import java.util.concurrent.TimeUnit;

/**
 * The pool's bookkeeping, which every store (allocate) and every copy (lease) pays: alone and
 * with two threads contending for the same pool (the free list's lock, the reference counts).
 * Pages are Mistral-7B chunks; nothing is copied, so only the bookkeeping is timed.
 *
 * <pre>
 * java --enable-native-access=ALL-UNNAMED -jar bench/target/benchmarks.jar PoolBenchmark
 * </pre>
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Fork(value = 1, jvmArgsAppend = {Ratios.NATIVE_ACCESS, Ratios.QUIET_LOGS, Ratios.SMALL_HEAP})
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
public class PoolBenchmark {
    /** Pages in the pool: more than the threads ever hold at once, so allocation never fails. */
    @Param("8")
    public int pages;

    ChunkPool pool;
    private int ownedPage;

    @Setup(Level.Trial)
    public void open() {
        long pageBytes = KvLayout.mistral7b(1).chunkBytes(ScatteredCaches.CHUNK_TOKENS);
        pool = new ChunkPool(pages * pageBytes, pageBytes, pages * pageBytes, SlabSource.best(), SlabRegistrar.NONE);
        ownedPage = pool.tryAllocate(); // maps the one slab now, not during the measurement
    }

    @TearDown(Level.Trial)
    public void close() {
        pool.release(ownedPage);
        pool.close();
    }

    @Benchmark
    public int allocateRelease() {
        int page = pool.tryAllocate();
        pool.release(page);
        return page;
    }

    @Benchmark
    @Threads(2)
    public int allocateRelease2Threads() {
        return allocateRelease();
    }

    @Benchmark
    public int leaseClose() {
        try (PageLease lease = pool.lease(ownedPage)) {
            return lease.page();
        }
    }

    @Benchmark
    @Threads(2)
    public int leaseClose2Threads() {
        return leaseClose();
    }
}
