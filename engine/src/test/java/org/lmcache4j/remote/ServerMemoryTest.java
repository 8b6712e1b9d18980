package org.lmcache4j.remote;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.lmcache4j.keys.ChunkKey;

import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.lmcache4j.remote.TierBench.CHUNK;
import static org.lmcache4j.remote.TierBench.await;
import static org.lmcache4j.remote.TierBench.writeEach;

/**
 * The remote tier's view of the server's memory ({@code lmcache:remote_cache_usage}): Redis's own
 * {@code used_memory}, polled in the background every 10 s of the injected clock, on real
 * redis-servers (standalone, a cluster's masters, a Sentinel's master); a server that stops
 * answering leaves the last value and blocks nothing.
 */
class ServerMemoryTest {
    private static final long STEP = ServerMemory.INTERVAL_NANOS;

    private final TierBench bench = new TierBench(12);

    @AfterEach
    void closeAll() throws Exception {
        bench.close();
    }

    /** The value of the poll made as the tier connected. */
    private static long firstPoll(RedisTier tier) throws InterruptedException {
        await("the first poll, as the tier connects", () -> tier.stats().serverUsedBytes() > 0);
        return tier.stats().serverUsedBytes();
    }

    /** Writes {@code chunks} records, steps the clock 10 s, and waits for a poll that sees them. */
    private long writeAndPoll(RedisTier tier, long before, int chunks) throws InterruptedException {
        writeEach(tier, bench.chunks(chunks));
        return pollAfterStep(tier, before + (long) chunks * CHUNK);
    }

    /** Steps the clock 10 s and waits for the poll to see at least {@code atLeast} bytes. */
    private long pollAfterStep(RedisTier tier, long atLeast) throws InterruptedException {
        bench.now.addAndGet(STEP);
        await("the poll 10 s on", () -> tier.stats().serverUsedBytes() >= atLeast);
        return tier.stats().serverUsedBytes();
    }

    private static long usedMemory(RedisServer redis) throws Exception {
        return ServerMemory.usedMemory(redis.cli("info", "memory"));
    }

    @Test
    void recordsWritten_showInTheNextPoll_tenSecondsOn_notBefore() throws Exception {
        RedisServer redis = bench.opened(RedisServer.start());
        RedisTier tier = bench.tier(redis.url(), 2000);
        long before = firstPoll(tier);
        assertTrue(before < 16 << 20, "an empty server's few hundred KiB to a few MiB: " + before);

        writeEach(tier, bench.chunks(16)); // 4 MiB of records
        Thread.sleep(1000); // five looks at the clock: it has not moved, so no poll
        assertEquals(before, tier.stats().serverUsedBytes(), "at most one poll per 10 s");

        long after = pollAfterStep(tier, before + 16L * CHUNK);
        long server = usedMemory(redis);
        assertTrue(Math.abs(server - after) < 1 << 20, "Redis's own figure: " + server + " vs " + after);
        assertTrue(tier.stats().healthy());
        assertEquals(0, tier.stats().errors());
    }

    @Test
    void clusterOfThreeMasters_sumsTheirUsedMemory() throws Exception {
        RedisCluster cluster = bench.opened(RedisCluster.startThreeMasters());
        RedisTier tier = bench.tier(cluster.url(), 2000);
        long polled = writeAndPoll(tier, firstPoll(tier), 12); // spread over the three masters
        long sum = 0;
        for (RedisServer n : cluster.nodes()) {
            sum += usedMemory(n);
        }
        assertTrue(Math.abs(sum - polled) < 2 << 20, "the masters' sum " + sum + " vs " + polled);
        assertTrue(polled > 3 * usedMemory(cluster.nodes().getFirst()) / 2, "more than one server's: " + polled);
    }

    @Test
    void throughSentinel_pollsTheMaster() throws Exception {
        RedisServer master = bench.opened(RedisServer.start());
        RedisServer sentinel = bench.opened(RedisServer.sentinel(master, "memory-master"));
        RedisTier tier = bench.tier("redis-sentinel://127.0.0.1:" + sentinel.port + "#memory-master", 2000);
        long polled = writeAndPoll(tier, firstPoll(tier), 8);
        long server = usedMemory(master);
        assertTrue(Math.abs(server - polled) < 1 << 20, "the master's own figure: " + server + " vs " + polled);
    }

    @Test
    @org.lmcache4j.ProvokesFaults("a hung Redis")
    void hungRedis_pollTimesOutInTheBackground_lastValueStays_nothingBlocks() throws Exception {
        RedisServer redis = bench.opened(RedisServer.start());
        RedisTier tier = bench.tier(redis.url(), 500);
        long last = firstPoll(tier);

        redis.pause(); // answers nothing
        try {
            bench.now.addAndGet(STEP);
            await("the poll to time out and mark the tier down", () -> !tier.stats().healthy());
            long start = System.nanoTime();
            assertEquals(last, tier.stats().serverUsedBytes(), "a failed poll keeps the last value");
            assertEquals(0, tier.leadingPresent(List.of(new ChunkKey(1, 2))), "a down tier answers at once");
            assertTrue(System.nanoTime() - start < TimeUnit.MILLISECONDS.toNanos(100), "nothing waited on Redis");
            assertTrue(tier.stats().errors() >= 1, "counted as the tier's errors are");
            assertFalse(bench.log.containing("Redis INFO memory timed out after 500 ms (remote_timeout_ms)").isEmpty(),
                    bench.log.lines().toString());
            bench.now.addAndGet(STEP); // down: not asked again
            Thread.sleep(500);
            assertEquals(last, tier.stats().serverUsedBytes());
        } finally {
            redis.resume();
        }
    }

    @Test
    @org.lmcache4j.ProvokesFaults("an unreachable Redis")
    void unreachableRedis_neverPolled_usageZero() throws Exception {
        RedisTier tier = bench.tier("redis://127.0.0.1:" + RedisServer.freePort(), 500);
        bench.now.addAndGet(STEP);
        Thread.sleep(500);
        assertFalse(tier.stats().healthy());
        assertEquals(0, tier.stats().serverUsedBytes());
    }

    @Test
    void usedMemory_readsTheFieldOfAnInfoAnswer() {
        assertEquals(1234567, ServerMemory.usedMemory("# Memory\r\nused_memory:1234567\r\nused_memory_human:1.18M\r\n"));
        assertThrows(NumberFormatException.class, () -> ServerMemory.usedMemory("# Memory\r\nused_memory_rss:5\r\n"));
    }
}
