package org.lmcache4j.bench;

import org.lmcache4j.KeyScope;
import org.lmcache4j.KvLayout;
import org.lmcache4j.keys.ChunkHasher;
import org.lmcache4j.keys.ChunkKey;
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
import org.openjdk.jmh.annotations.Warmup;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.Random;
import java.util.concurrent.TimeUnit;

/**
 * Keying a long prompt: {@code chunkKeys} is {@link ChunkHasher#keys} over {@code tokens} tokens
 * (128k: 512 chained SHA-256 digests of 1 KiB each; goal under 1 ms), {@code sha256OneCall} one
 * SHA-256 over the same 512 KiB, the floor that chaining and key objects add to.
 *
 * <pre>
 * java --enable-native-access=ALL-UNNAMED -jar bench/target/benchmarks.jar KeyHashBenchmark
 * </pre>
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Fork(value = 1, jvmArgsAppend = {Ratios.NATIVE_ACCESS, Ratios.QUIET_LOGS, Ratios.SMALL_HEAP})
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
public class KeyHashBenchmark {
    @Param("131072")
    public int tokens;

    private ChunkHasher hasher;
    private int[] prompt;
    private byte[] promptBytes;
    private MessageDigest sha256;

    @Setup(Level.Trial)
    public void setUp() throws NoSuchAlgorithmException {
        hasher = new ChunkHasher("mistralai/Mistral-7B-Instruct-v0.2", 1, 0, ScatteredCaches.CHUNK_TOKENS,
                KvLayout.mistral7b(1));
        Random rnd = new Random(7);
        prompt = new int[tokens];
        ByteBuffer bytes = ByteBuffer.allocate(tokens * Integer.BYTES).order(ByteOrder.LITTLE_ENDIAN);
        for (int i = 0; i < tokens; i++) {
            prompt[i] = rnd.nextInt(32000);
            bytes.putInt(prompt[i]);
        }
        promptBytes = bytes.array();
        sha256 = MessageDigest.getInstance("SHA-256");
    }

    @Benchmark
    public ChunkKey[] chunkKeys() {
        return hasher.keys(KeyScope.NONE, prompt);
    }

    @Benchmark
    public byte[] sha256OneCall() {
        return sha256.digest(promptBytes);
    }
}
