package org.lmcache4j;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.lmcache4j.remote.RedisServer;

import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Prefetch from Redis (real redis-server processes), alone and below a disk tier: a cold engine's
 * prefetch, a Redis killed or hung under one, cancellation, and an engine closed while they run.
 */
class PrefetchRemoteTest {
    private static final Duration WAIT = Duration.ofSeconds(20);
    private final Random rnd = new Random(41);
    private final int[] tokens = TestCaches.randomTokens(768, rnd);
    private final long[] slots = TestCaches.randomSlots(EngineFixture.LAYOUT, 768, rnd);

    @TempDir
    Path dir;

    /**
     * A disk tier (written through) and Redis at {@code url}. A hung Redis holds a prefetch for
     * remote_timeout_ms: long enough for the test to act while it waits, on a busy machine too.
     */
    private EngineConfig diskAndRedis(String url, int concurrency) {
        return DiskTierEngineTest.config(dir, 16, 64, Map.of("disk_write_through", true, "remote_timeout_ms", 4000,
                "prefetch_max_concurrency", concurrency)).toBuilder().remoteUrl(url).build();
    }

    /** Redis holds the whole prompt (stored by another engine); returns the prompt's rows. */
    private byte[] inRedis(String url) {
        try (EngineFixture writer = new EngineFixture(RemoteTierEngineTest.config(url, 16))) {
            writer.engine.store(tokens, slots, 0);
            RemoteTierEngineTest.awaitWrites(writer, 3);
            return writer.caches.rows(slots, 0, tokens.length);
        }
    }

    /** An engine over disk and Redis whose disk holds the prompt's first two chunks, its pool nothing. */
    private EngineFixture firstTwoChunksOnDisk(String url, int concurrency) {
        EngineFixture f = new EngineFixture(diskAndRedis(url, concurrency));
        f.engine.store(Arrays.copyOf(tokens, 512), Arrays.copyOf(slots, 512), 0);
        DiskTierEngineTest.await("two records", () -> f.engine.stats().disk().records() == 2
                && f.engine.stats().leases() == 0);
        f.engine.clear();
        return f;
    }

    /** Pauses Redis and starts a prefetch of the prompt; returns once it has planned its disk chunks and waits on Redis. */
    private Prefetch waitingOnHungRedis(EngineFixture f, RedisServer redis) throws Exception {
        redis.pause();
        Prefetch p = f.engine.prefetch(KeyScope.NONE, tokens);
        DiskTierEngineTest.await("the prefetch to plan its disk chunks", () -> f.engine.stats().pagesInUse() == 2);
        assertEquals(Prefetch.State.RUNNING, p.state(), "waiting on Redis");
        return p;
    }

    @Test
    void coldEngine_prefetchesFromRedis_andTheRetrieveLoadsFromThePool() throws Exception {
        String url = RedisServer.shared().url();
        byte[] rows = inRedis(url);
        try (EngineFixture f = new EngineFixture(RemoteTierEngineTest.config(url, 16))) {
            try (Prefetch p = f.engine.prefetch(KeyScope.NONE, tokens)) {
                assertTrue(p.await(WAIT), p.toString());
                assertEquals(Prefetch.State.DONE, p.state());
                assertEquals(768, p.readyTokens());
            }
            assertEquals(768, f.engine.stats().prefetch().remoteTokens());
            assertEquals(3, f.engine.stats().chunks());
            long remoteReads = f.engine.stats().remote().reads();
            f.caches.zero();
            assertEquals(768, f.engine.retrieve(tokens, slots, 0));
            assertArrayEquals(rows, f.caches.rows(slots, 0, 768));
            assertEquals(0, f.engine.stats().remoteHitTokens(), "the retrieve found it all in the pool");
            assertEquals(remoteReads, f.engine.stats().remote().reads());
        }
    }

    @Test
    @ProvokesFaults("a Redis killed under a prefetch")
    void redisKilledMidPrefetch_theDiskPrefixLands_theRestIsAMiss() throws Exception {
        RedisServer redis = RedisServer.start();
        try {
            byte[] rows = inRedis(redis.url());
            try (EngineFixture f = firstTwoChunksOnDisk(redis.url(), 4)) {
                Prefetch p = waitingOnHungRedis(f, redis);
                redis.kill();
                assertTrue(p.await(WAIT), p.toString());
                assertEquals(Prefetch.State.DONE, p.state(), "a dead tier is a miss, not a failure");
                assertEquals(512, p.readyTokens(), "the two disk chunks; chunk 2 was only in Redis");
                p.close();
                assertEquals(0, f.engine.stats().leases());
                f.caches.zero();
                assertEquals(512, f.engine.retrieve(tokens, slots, 0));
                assertArrayEquals(rowsOf(rows, 0, 512), f.caches.rows(slots, 0, 512), "no wrong bytes");
                assertEquals(0, f.engine.stats().diskHitTokens(), "the retrieve found them in the pool");
            }
        } finally {
            redis.close();
        }
    }

    @Test
    @ProvokesFaults("a disk record corrupted while a prefetch waits on a hung Redis")
    void diskRecordCorruptedMidPrefetch_isAMiss_nothingAfterItIsPublished() throws Exception {
        RedisServer redis = RedisServer.start();
        try {
            byte[] rows = inRedis(redis.url());
            try (EngineFixture f = firstTwoChunksOnDisk(redis.url(), 4)) {
                Prefetch p = waitingOnHungRedis(f, redis);
                // Planned, not read yet: the record changes under the prefetch.
                try (FileChannel ch = FileChannel.open(DiskTierEngineTest.recordOf(f, tokens, 1), StandardOpenOption.WRITE)) {
                    ch.write(ByteBuffer.wrap(new byte[]{0x55}), 4096 + 100);
                }
                redis.resume();
                assertTrue(p.await(WAIT), p.toString());
                assertEquals(Prefetch.State.DONE, p.state());
                assertEquals(256, p.readyTokens(), "chunk 1 fails its checksum; chunk 2 (Redis) is after the gap");
                p.close();
                EngineStats s = f.engine.stats();
                assertEquals(1, s.disk().readFailures());
                assertEquals(1, s.chunks(), "only chunk 0 was published");
                assertEquals(0, s.leases());
                f.caches.zero();
                assertEquals(768, f.engine.retrieve(tokens, slots, 0), "chunk 0 from the pool, chunks 1 and 2 from Redis");
                assertArrayEquals(rows, f.caches.rows(slots, 0, 768), "no wrong bytes");
                assertEquals(512, f.engine.stats().remoteHitTokens());
                assertEquals(0, f.engine.stats().diskHitTokens(), "the corrupt record was deleted, not read again");
            }
        } finally {
            redis.close();
        }
    }

    /** Tokens [from, to) of a prompt's rows (layer by layer, plane by plane: one run of rows each). */
    private byte[] rowsOf(byte[] all, int from, int to) {
        int row = (int) EngineFixture.LAYOUT.rowBytes();
        int runs = all.length / (tokens.length * row);
        byte[] out = new byte[runs * (to - from) * row];
        for (int r = 0; r < runs; r++) {
            System.arraycopy(all, (r * tokens.length + from) * row, out, r * (to - from) * row, (to - from) * row);
        }
        return out;
    }

    @Test
    @ProvokesFaults("a hung Redis under cancelled prefetches")
    void cancel_aQueuedPrefetchNeverRuns_aRunningOneStops_andNeitherPins() throws Exception {
        RedisServer redis = RedisServer.start();
        try {
            byte[] rows = inRedis(redis.url());
            try (EngineFixture f = firstTwoChunksOnDisk(redis.url(), 1)) {
                redis.pause();
                Prefetch running = f.engine.prefetchAndPin("req-a", KeyScope.NONE, tokens);
                Prefetch queued = f.engine.prefetchAndPin("req-b", KeyScope.NONE, tokens);
                DiskTierEngineTest.await("the first to plan", () -> f.engine.stats().pagesInUse() == 2);
                assertEquals(Prefetch.State.QUEUED, queued.state(), "one worker: the second waits");
                assertTrue(queued.cancel());
                assertTrue(queued.isDone(), "a queued prefetch ends at once");
                assertEquals(Prefetch.State.CANCELLED, queued.state());
                assertTrue(running.cancel());
                assertTrue(running.await(WAIT), running.toString());
                assertEquals(Prefetch.State.CANCELLED, running.state());
                assertFalse(running.cancel(), "already over");
                EngineStats s = f.engine.stats();
                assertEquals(0, s.pins(), "a cancelled prefetch pins nothing");
                assertEquals(0, s.leases());
                assertEquals(0, s.pagesInUse(), "the disk chunks it planned were dropped, unread");
                assertEquals(0, s.disk().reads());
                assertEquals(new PrefetchStats(2, 2, 0, 0, 0, 0, 2), s.prefetch());
                running.close();
                queued.close();
                assertEquals(0, f.engine.stats().prefetch().finishedOpen());
                redis.resume();
                DiskTierEngineTest.await("Redis back", () -> f.engine.stats().remote().healthy());
                f.caches.zero();
                assertEquals(768, f.engine.retrieve(tokens, slots, 0), "from disk and Redis: nothing was lost");
                assertArrayEquals(rows, f.caches.rows(slots, 0, 768));
            }
        } finally {
            redis.close();
        }
    }

    @Test
    @ProvokesFaults("an engine closed while prefetches wait on a hung Redis")
    void engineClosedWhilePrefetchesRun_everyOneEnds_andNothingLeaks() throws Exception {
        RedisServer redis = RedisServer.start();
        try {
            inRedis(redis.url());
            EngineFixture f = firstTwoChunksOnDisk(redis.url(), 2);
            try {
                redis.pause();
                List<Prefetch> all = List.of(f.engine.prefetch(KeyScope.NONE, tokens),
                        f.engine.prefetch(KeyScope.NONE, Arrays.copyOf(tokens, 700)),
                        f.engine.prefetch(KeyScope.NONE, TestCaches.randomTokens(600, rnd)));
                DiskTierEngineTest.await("a prefetch to plan", () -> f.engine.stats().pagesInUse() == 2);
                f.engine.close();
                for (Prefetch p : all) {
                    assertTrue(p.isDone(), "ended by the close: " + p);
                    assertEquals(Prefetch.State.CANCELLED, p.state());
                }
                EngineStats s = f.engine.stats();
                assertEquals(0, s.leases(), "no lease left: the pool was unmapped");
                assertEquals(0, s.pins());
                assertEquals(0, s.prefetch().inFlight());
            } finally {
                f.engine.close();
                f.caches.close();
                redis.resume(); // a stopped process cannot take the SIGTERM that closes it
            }
        } finally {
            redis.close();
        }
    }
}
