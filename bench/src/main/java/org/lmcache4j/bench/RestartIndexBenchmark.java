package org.lmcache4j.bench;

import org.lmcache4j.config.DiskOptions;
import org.lmcache4j.disk.DiskTier;
import org.lmcache4j.keys.ChunkKey;
import org.lmcache4j.record.PayloadCodec;
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
import java.util.Comparator;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * Opening a disk tier over {@code records} existing records: the restart path, which indexes the
 * directory from the record headers alone (goal: 10,000 records in under 2 s).
 *
 * <pre>
 * java --enable-native-access=ALL-UNNAMED -jar bench/target/benchmarks.jar RestartIndexBenchmark
 * </pre>
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.SingleShotTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Fork(value = 1, jvmArgsAppend = {"--enable-native-access=ALL-UNNAMED", "-Xmx1g"})
@Warmup(iterations = 1)
@Measurement(iterations = 5)
public class RestartIndexBenchmark {
    @Param({"10000"})
    public int records;

    private Path dir;
    private final DiskOptions options = new DiskOptions(true, false, PayloadCodec.Mode.NONE, 4, 0.9, 0.8);

    @Setup(Level.Trial)
    public void writeRecords() throws IOException {
        dir = Files.createTempDirectory(Path.of(System.getProperty("bench.dir", "/var/tmp")), "lmcache4j-restart-bench");
        int[] tokens = new int[16];
        try (Arena arena = Arena.ofConfined();
             DiskTier tier = DiskTier.open(dir, Long.MAX_VALUE / 4, new byte[16], 2, options)) {
            MemorySegment chunk = arena.allocate(4096, 4096);
            for (int i = 0; i < records; i++) {
                tier.write(new ChunkKey(7, i), new ChunkKey(7, i - 1), tokens, chunk);
            }
        }
    }

    @Benchmark
    public long openAndIndex() {
        try (DiskTier tier = DiskTier.open(dir, Long.MAX_VALUE / 4, new byte[16], 2, options)) {
            long n = tier.stats().records();
            if (n != records) {
                throw new IllegalStateException("indexed " + n + " of " + records);
            }
            return n;
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }

    @TearDown(Level.Trial)
    public void delete() throws IOException {
        try (Stream<Path> s = Files.walk(dir)) {
            for (Path p : s.sorted(Comparator.reverseOrder()).toList()) {
                Files.delete(p);
            }
        }
    }
}
