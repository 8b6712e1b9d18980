package org.lmcache4j.bench;

import io.lettuce.core.RedisClient;
import io.lettuce.core.RedisURI;
import io.lettuce.core.api.StatefulRedisConnection;
import io.lettuce.core.api.sync.RedisCommands;
import io.lettuce.core.codec.ByteArrayCodec;
import org.lmcache4j.config.RemoteOptions;
import org.lmcache4j.keys.ChunkKey;
import org.lmcache4j.remote.RedisTier;
import org.lmcache4j.remote.RemoteTier;
import org.lmcache4j.remote.RemoteUrl;
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
import java.net.ServerSocket;
import java.nio.file.Files;
import java.time.Duration;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

/**
 * The Redis tier against raw lettuce moving the same bytes to the same server in the same run:
 * {@code tierPut} (checksum, header, encode from pool memory into Netty's buffer, SET) against
 * {@code rawSet} (a {@code byte[]} of the same size through {@link ByteArrayCodec}), and
 * {@code tierGet} (GET landing in a pool page, then every check) against {@code rawGet}.
 *
 * <pre>
 * java --enable-native-access=ALL-UNNAMED -jar bench/target/benchmarks.jar RemoteBenchmark
 * </pre>
 * It starts its own {@code redis-server} on a free loopback port (persistence off), or uses
 * {@code -Dbench.redis=redis://host:port}.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Fork(value = 1, jvmArgsAppend = {"--enable-native-access=ALL-UNNAMED", "-Xmx2g",
        "-Dorg.slf4j.simpleLogger.defaultLogLevel=warn"})
@Warmup(iterations = 2, time = 2)
@Measurement(iterations = 5, time = 2)
public class RemoteBenchmark {
    private static final int TOKENS = 256;
    private static final int RING = 4;

    /** Bytes of the chunk: a Mistral-7B chunk (32 MiB) by default. */
    @Param({"33554432"})
    public int chunkBytes;

    private Process server;
    private RedisTier tier;
    private RedisClient client;
    private StatefulRedisConnection<byte[], byte[]> raw;
    private RedisCommands<byte[], byte[]> rawCommands;
    private Arena arena;
    private MemorySegment chunk;
    private MemorySegment page;
    private byte[] rawValue;
    private final int[] tokens = new int[TOKENS];
    private long tierN;
    private long rawN;

    @Setup(Level.Trial)
    public void setUp() throws Exception {
        String url = System.getProperty("bench.redis");
        if (url == null) {
            int port;
            try (ServerSocket s = new ServerSocket(0)) {
                port = s.getLocalPort();
            }
            server = new ProcessBuilder("redis-server", "--port", String.valueOf(port), "--bind", "127.0.0.1",
                    "--save", "", "--appendonly", "no", "--dir", Files.createTempDirectory("bench-redis").toString())
                    .redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
            url = "redis://127.0.0.1:" + port;
            Thread.sleep(300);
        }
        tier = RedisTier.open(RemoteUrl.parse(url, Duration.ofSeconds(10)), new byte[16],
                new RemoteOptions(10_000, 0, 16));
        client = RedisClient.create(RedisURI.create(url));
        raw = client.connect(ByteArrayCodec.INSTANCE);
        rawCommands = raw.sync();
        arena = Arena.ofShared();
        chunk = arena.allocate(chunkBytes, 4096);
        page = arena.allocate(chunkBytes, 4096);
        Random rnd = new Random(1);
        for (long i = 0; i + 8 <= chunkBytes; i += 8) {
            chunk.set(ValueLayout.JAVA_LONG, i, rnd.nextLong());
        }
        rawValue = new byte[Math.toIntExact(chunkBytes + RecordHeader.headerBytes(TOKENS))];
        MemorySegment.copy(chunk, ValueLayout.JAVA_BYTE, 0, rawValue, 0, chunkBytes);
        for (int i = 0; i < RING; i++) {
            tierPut();
            rawSet();
        }
    }

    @TearDown(Level.Trial)
    public void tearDown() throws InterruptedException {
        raw.close();
        client.shutdown();
        tier.close();
        arena.close();
        if (server != null) {
            server.destroy();
            server.waitFor(10, TimeUnit.SECONDS);
        }
    }

    private static ChunkKey key(long i) {
        return new ChunkKey(0xBE4C, i % RING);
    }

    @Benchmark
    public long tierPut() throws InterruptedException {
        CountDownLatch done = new CountDownLatch(1);
        long i = tierN++;
        tier.write(key(i), key(i - 1), tokens, chunk, done::countDown);
        done.await();
        return tier.stats().writes();
    }

    @Benchmark
    public String rawSet() {
        return rawCommands.set(("raw:" + (rawN++ % RING)).getBytes(), rawValue);
    }

    @Benchmark
    public int tierGet() {
        int got = tier.read(List.of(new RemoteTier.Read(key(tierN++), tokens, 0, TOKENS, page)));
        if (got != 1) {
            throw new IllegalStateException("remote read failed");
        }
        return got;
    }

    @Benchmark
    public byte[] rawGet() {
        return rawCommands.get(("raw:" + (rawN++ % RING)).getBytes());
    }
}
