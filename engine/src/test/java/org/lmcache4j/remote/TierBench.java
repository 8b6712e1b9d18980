package org.lmcache4j.remote;

import org.lmcache4j.config.RemoteOptions;
import org.lmcache4j.keys.ChunkKey;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.BooleanSupplier;

import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * What the remote tier's tests on real redis-servers share: a clock they step (the tier's
 * {@link org.lmcache4j.Ticker}), a captured log, random chunks in an arena, and everything they
 * open, closed in reverse order by {@link #close()}.
 */
final class TierBench implements AutoCloseable {
    static final int CHUNK = 256 * 1024;
    private static final byte[] NAMESPACE = new byte[16];

    final AtomicLong now = new AtomicLong(1_000_000_000L);
    final CapturedLog log = new CapturedLog();
    final Arena arena = Arena.ofShared();
    private final Random rnd;
    private final List<AutoCloseable> open = new ArrayList<>();

    /** A chunk of random bytes, with its key and tokens. */
    record Chunk(ChunkKey key, int[] tokens, MemorySegment bytes) {
    }

    TierBench(long seed) {
        rnd = new Random(seed);
    }

    <T extends AutoCloseable> T opened(T c) {
        open.add(c);
        return c;
    }

    /** A tier on {@code url} with this bench's clock and log, closed by {@link #close()}. */
    RedisTier tier(String url, int timeoutMs) {
        RemoteOptions options = new RemoteOptions(timeoutMs, 0, 16);
        return opened(RedisTier.open(RemoteUrl.parse(url, Duration.ofMillis(timeoutMs)), NAMESPACE, options,
                now::get, log));
    }

    Chunk chunk() {
        MemorySegment bytes = arena.allocate(CHUNK);
        for (long i = 0; i < CHUNK; i += 8) {
            bytes.set(ValueLayout.JAVA_LONG_UNALIGNED, i, rnd.nextLong());
        }
        return new Chunk(new ChunkKey(rnd.nextLong(), rnd.nextLong()), rnd.ints(256, 0, 32000).toArray(), bytes);
    }

    List<Chunk> chunks(int n) {
        List<Chunk> list = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            list.add(chunk());
        }
        return list;
    }

    /** Writes {@code chunks} one after the other, each answered before the next is sent. */
    static void writeEach(RedisTier tier, List<Chunk> chunks) throws InterruptedException {
        for (Chunk c : chunks) {
            Semaphore done = new Semaphore(0);
            tier.write(c.key(), c.key(), c.tokens(), c.bytes(), done::release);
            assertTrue(done.tryAcquire(10, TimeUnit.SECONDS), "write answered");
        }
    }

    static void await(String what, BooleanSupplier condition) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
        while (!condition.getAsBoolean()) {
            assertTrue(System.nanoTime() < deadline, "timed out waiting for " + what);
            Thread.sleep(5);
        }
    }

    @Override
    public void close() throws Exception {
        for (AutoCloseable c : open.reversed()) {
            c.close();
        }
        arena.close();
    }
}
