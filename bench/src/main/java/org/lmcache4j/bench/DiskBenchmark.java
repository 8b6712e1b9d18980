package org.lmcache4j.bench;

import org.lmcache4j.config.DiskOptions;
import org.lmcache4j.disk.DiskTier;
import org.lmcache4j.keys.ChunkKey;
import org.lmcache4j.record.PayloadCodec;
import org.lmcache4j.record.RecordHeader;
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
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.OpenOption;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Comparator;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * The disk tier against a plain {@link FileChannel} moving the same bytes, in the same run, with
 * the same open options ({@code O_DIRECT} or not): one Mistral-7B chunk (32 MiB) per operation.
 *
 * <pre>
 * java --enable-native-access=ALL-UNNAMED -jar bench/target/benchmarks.jar DiskBenchmark -f 1 -wi 2 -i 5
 * </pre>
 *
 * {@code tierWrite} is a spill (encode, checksum, temporary file, rename, index, and deleting the
 * oldest record when the cap is reached); {@code channelWrite} writes the same number of bytes to a
 * fresh file and deletes the oldest of a ring of the same size. {@code tierRead} is a disk hit
 * (header check, payload into the page, checksum); {@code channelRead} reads the same file whole.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Fork(value = 1, jvmArgsAppend = {"--enable-native-access=ALL-UNNAMED", "-Xmx1g"})
@Warmup(iterations = 2, time = 2)
@Measurement(iterations = 5, time = 2)
public class DiskBenchmark {
    static final int CHUNK_BYTES = 32 << 20;
    static final int TOKENS = 256;
    private static final int RING = 24;

    @Param({"true", "false"})
    public boolean oDirect;

    private Path dir;
    private Arena arena;
    private MemorySegment chunk;
    private MemorySegment page;
    private DiskTier tier;
    private final int[] tokens = new int[TOKENS];
    private long tierNext;
    private long plainNext;
    private long readNext;

    @Setup(Level.Trial)
    public void setUp() throws IOException {
        dir = Files.createTempDirectory(Path.of(System.getProperty("bench.dir", "/var/tmp")), "lmcache4j-disk-bench");
        arena = Arena.ofShared();
        chunk = arena.allocate(CHUNK_BYTES, 4096);
        page = arena.allocate(CHUNK_BYTES, 4096);
        Random rnd = new Random(1);
        for (long i = 0; i < CHUNK_BYTES; i += 8) {
            chunk.set(ValueLayout.JAVA_LONG, i, rnd.nextLong());
        }
        long cap = (long) RING * (CHUNK_BYTES + 8192);
        tier = DiskTier.open(dir.resolve("tier"), cap, new byte[16], 2,
                new DiskOptions(oDirect, false, PayloadCodec.Mode.NONE, 4, 0.9, 0.8));
        Files.createDirectories(dir.resolve("plain"));
        for (int i = 0; i < RING; i++) {
            tierWrite();
            channelWrite();
        }
    }

    @TearDown(Level.Trial)
    public void tearDown() throws IOException {
        tier.close();
        arena.close();
        try (Stream<Path> s = Files.walk(dir)) {
            for (Path p : s.sorted(Comparator.reverseOrder()).toList()) {
                Files.delete(p);
            }
        }
    }

    @Benchmark
    public boolean tierWrite() {
        long n = tierNext++;
        return tier.write(key(n), key(n - 1), tokens, chunk);
    }

    @Benchmark
    public long channelWrite() throws IOException {
        long n = plainNext++;
        Path p = dir.resolve("plain").resolve(n + ".bin");
        long written;
        try (FileChannel ch = FileChannel.open(p, options(StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE))) {
            written = writeFully(ch, chunk, RecordHeader.ALIGN);
            written += writeFully(ch, chunk.asSlice(0, RecordHeader.ALIGN), 0);
        }
        Files.deleteIfExists(dir.resolve("plain").resolve((n - RING) + ".bin"));
        return written;
    }

    @Benchmark
    public boolean tierRead() {
        long n = tierNext - 1 - (readNext++ % (RING / 2));
        ChunkKey k = key(n);
        if (!tier.beginRead(k)) {
            throw new IllegalStateException("record " + n + " is gone");
        }
        try {
            if (!tier.read(k, tokens, 0, TOKENS, page)) {
                throw new IllegalStateException("record " + n + " did not verify");
            }
            return true;
        } finally {
            tier.endRead(k);
        }
    }

    @Benchmark
    public long channelRead() throws IOException {
        Path p = newestPlain(readNext++ % (RING / 2));
        try (FileChannel ch = FileChannel.open(p, options(StandardOpenOption.READ))) {
            return readFully(ch, page, RecordHeader.ALIGN) + readFully(ch, page.asSlice(0, RecordHeader.ALIGN), 0);
        }
    }

    private Path newestPlain(long back) throws IOException {
        try (Stream<Path> s = Files.list(dir.resolve("plain"))) {
            return s.sorted(Comparator.comparingLong(DiskBenchmark::number).reversed()).skip(back).findFirst()
                    .orElseThrow();
        }
    }

    private static long number(Path p) {
        String f = p.getFileName().toString();
        return Long.parseLong(f.substring(0, f.indexOf('.')));
    }

    private static ChunkKey key(long n) {
        return new ChunkKey(0x5EED, n);
    }

    private OpenOption[] options(OpenOption a, OpenOption... rest) {
        OpenOption[] all = new OpenOption[rest.length + (oDirect ? 2 : 1)];
        all[0] = a;
        System.arraycopy(rest, 0, all, 1, rest.length);
        if (oDirect) {
            all[all.length - 1] = com.sun.nio.file.ExtendedOpenOption.DIRECT;
        }
        return all;
    }

    private static long writeFully(FileChannel ch, MemorySegment seg, long pos) throws IOException {
        ByteBuffer b = seg.asByteBuffer();
        long start = pos;
        while (b.hasRemaining()) {
            pos += ch.write(b, pos);
        }
        return pos - start;
    }

    private static long readFully(FileChannel ch, MemorySegment seg, long pos) throws IOException {
        ByteBuffer b = seg.asByteBuffer();
        while (b.hasRemaining()) {
            if (ch.read(b, pos + b.position()) < 0) {
                throw new IOException("short file");
            }
        }
        return b.position();
    }
}
