package org.lmcache4j.remote;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.lmcache4j.RemoteStats;
import org.lmcache4j.keys.ChunkKey;
import org.lmcache4j.remote.TierBench.Chunk;

import java.lang.foreign.Arena;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.lmcache4j.remote.TierBench.await;
import static org.lmcache4j.remote.TierBench.writeEach;

/**
 * The tier against redis-servers that refuse (maxmemory, a replica, a password) or hang: refusals
 * are counted, warned about once a minute per reason and leave the tier up; authentication
 * failures and timeouts say what happened.
 */
@org.lmcache4j.ProvokesFaults("Redis refusals, timeouts and authentication failures")
class RedisTierFailureTest {
    private static final int CHUNK = TierBench.CHUNK;

    private final TierBench bench = new TierBench(11);
    private final AtomicLong now = bench.now;
    private final CapturedLog log = bench.log;
    private final Arena arena = bench.arena;

    @AfterEach
    void closeAll() throws Exception {
        bench.close();
    }

    private <T extends AutoCloseable> T opened(T c) {
        return bench.opened(c);
    }

    private RedisTier tier(String url, int timeoutMs) {
        return bench.tier(url, timeoutMs);
    }

    private List<Chunk> chunks(int n) {
        return bench.chunks(n);
    }

    @Test
    void redisAtMaxmemory_refusesWrites_countedAndWarnedOnceAMinute_tierStaysUp_readsGoOn() throws Exception {
        RedisServer redis = opened(RedisServer.start("--maxmemory", "3mb", "--maxmemory-policy", "noeviction"));
        RedisTier tier = tier(redis.url(), 2000);
        List<Chunk> chunks = chunks(30); // 7.5 MiB: well past 3 MiB
        writeEach(tier, chunks);

        RemoteStats s = tier.stats();
        long written = s.writes();
        assertTrue(written > 0 && written < 30, "some fit, the rest is refused: " + written);
        assertEquals(1, s.writesRefused("oom"), "one refused; the next ones wait out the pause (1 s)");
        assertEquals(1, s.writesRefused());
        assertEquals(30 - written, s.writesDropped(), "refused or held back: not made");
        assertTrue(s.healthy(), "a refusal is an answer, not an outage");
        assertEquals(0, s.healthChanges());
        assertEquals(0, s.errors());
        List<String> warnings = log.warnings();
        assertEquals(1, warnings.size(), log.lines().toString());
        assertTrue(warnings.getFirst().contains("Redis refused a write (OOM command not allowed"), warnings.getFirst());
        assertTrue(warnings.getFirst().contains("maxmemory-policy allkeys-lru"), warnings.getFirst());
        assertTrue(log.containing("is back").isEmpty() && log.containing("failed (").isEmpty(), log.lines().toString());

        // Reads go on: the chunks that fit are found and read back, byte-exact.
        List<ChunkKey> keys = chunks.stream().map(Chunk::key).toList();
        assertEquals(written, tier.leadingPresent(keys));
        List<RemoteTier.Read> reads = new ArrayList<>();
        for (int i = 0; i < written; i++) {
            reads.add(new RemoteTier.Read(chunks.get(i).key(), chunks.get(i).tokens(), 0, 256, arena.allocate(CHUNK)));
        }
        assertEquals(written, tier.read(reads));
        for (int i = 0; i < written; i++) {
            assertArrayEquals(chunks.get(i).bytes().toArray(ValueLayout.JAVA_BYTE),
                    reads.get(i).page().toArray(ValueLayout.JAVA_BYTE));
        }

        // 59 s on: the pause is over, one write asks again, is refused, and the pause doubles (2 s);
        // still within the minute, so no warning.
        now.addAndGet(TimeUnit.SECONDS.toNanos(59));
        writeEach(tier, chunks(3));
        assertEquals(2, tier.stats().writesRefused("oom"));
        assertEquals(1, log.warnings().size(), log.lines().toString());
        // 61 s on: refused again, and the minute is over: one warning that counts them.
        now.addAndGet(TimeUnit.SECONDS.toNanos(2));
        writeEach(tier, chunks(1));
        assertEquals(3, tier.stats().writesRefused("oom"));
        assertEquals(2, log.warnings().size(), log.lines().toString());
        assertTrue(log.warnings().get(1).contains("Redis refused 2 more commands (oom) in the last 61 s,"
                + " the last a write (OOM"), log.warnings().get(1));

        // Redis takes writes again: the first one after the pause (now 4 s) ends it.
        redis.cli("config", "set", "maxmemory", "0");
        now.addAndGet(TimeUnit.SECONDS.toNanos(4));
        writeEach(tier, chunks(3));
        assertEquals(written + 3, tier.stats().writes());
        assertEquals(3, tier.stats().writesRefused());
        assertTrue(tier.stats().healthy());
        assertEquals(0, tier.stats().healthChanges());
    }

    @Test
    void readOnlyReplica_refusesWrites_asReadonly_lookupsGoOn() throws Exception {
        RedisServer replica = opened(RedisServer.start("--replicaof", "127.0.0.1",
                String.valueOf(RedisServer.freePort())));
        RedisTier tier = tier(replica.url(), 2000);
        List<Chunk> chunks = chunks(5);
        writeEach(tier, chunks);
        assertEquals(1, tier.stats().writesRefused("readonly"), "then held back");
        assertEquals(5, tier.stats().writesDropped());
        assertEquals(0, tier.leadingPresent(chunks.stream().map(Chunk::key).toList()));
        assertEquals(1, tier.stats().lookups(), "the lookup was answered");
        assertTrue(tier.stats().healthy());
        assertEquals(0, tier.stats().healthChanges());
        assertEquals(1, log.warnings().size(), log.lines().toString());
        assertTrue(log.warnings().getFirst().contains("(READONLY You can't write against a read only replica.):"
                + " remote_url names a read-only replica"), log.warnings().getFirst());
    }

    @Test
    void passwordRequired_noneGiven_saysAuthenticationFailedOnce_andConnectsOnceItIsLifted() throws Exception {
        RedisServer redis = opened(RedisServer.start());
        redis.cli("config", "set", "requirepass", "sekret");
        RedisTier tier = tier(redis.url(), 2000);
        await("a second try by the prober", () -> tier.stats().errors() >= 2);
        assertFalse(tier.stats().healthy());
        assertEquals(1, log.lines().size(), log.lines().toString());
        String line = log.lines().getFirst();
        assertTrue(line.startsWith("WARN remote tier " + redis.url() + ": authentication failed (NOAUTH "), line);
        assertTrue(line.endsWith("): give the password in remote_url (redis://:password@host:port); serving without it"
                + " and trying again in the background"), line);
        assertTrue(log.containing("unreachable").isEmpty());

        redis.cli("-a", "sekret", "--no-auth-warning", "config", "set", "requirepass", "");
        await("connected", () -> tier.stats().healthy());
        assertEquals("INFO remote tier " + redis.url() + " connected", log.lines().getLast());
    }

    @Test
    void wrongPassword_saysAuthenticationFailed() throws Exception {
        RedisServer redis = opened(RedisServer.start());
        redis.cli("config", "set", "requirepass", "sekret");
        RedisTier tier = tier("redis://:wrong@127.0.0.1:" + redis.port, 2000);
        assertFalse(tier.stats().healthy());
        assertEquals(1, log.lines().size(), log.lines().toString());
        String line = log.lines().getFirst();
        assertTrue(line.startsWith("WARN remote tier redis://***@127.0.0.1:" + redis.port + ": authentication failed"
                + " (WRONGPASS invalid username-password pair or user is disabled.): check the user and password in"
                + " remote_url"), line);
        assertFalse(line.contains("wrong@"), "the password is never logged");
    }

    @Test
    void hungRedis_timeoutsSayWhatTimedOutAfterHowLong() throws Exception {
        RedisServer redis = opened(RedisServer.start());
        RedisTier tier = tier(redis.url(), 300);
        List<Chunk> chunks = chunks(3);
        writeEach(tier, chunks);
        assertEquals(3, tier.stats().writes());
        List<ChunkKey> keys = chunks.stream().map(Chunk::key).toList();

        redis.pause();
        try {
            assertEquals(0, tier.leadingPresent(keys));
        } finally {
            redis.resume();
        }
        await("back", () -> tier.stats().healthy());
        List<RemoteTier.Read> reads = chunks.stream()
                .map(c -> new RemoteTier.Read(c.key(), c.tokens(), 0, 256, arena.allocate(CHUNK))).toList();
        redis.pause();
        try {
            assertEquals(0, tier.read(reads));
        } finally {
            redis.resume();
        }
        await("back", () -> tier.stats().healthy());
        redis.pause();
        try {
            writeEach(tier, chunks(1));
        } finally {
            redis.resume();
        }
        await("back", () -> tier.stats().healthy());
        assertEquals(3, tier.read(reads), "all there once Redis answers");

        String url = redis.url();
        assertEquals(List.of(
                "WARN remote tier " + url + " failed (Redis EXISTS of 3 chunks timed out after 300 ms (remote_timeout_ms)):"
                        + " serving without it and reconnecting in the background",
                "WARN remote tier " + url + " failed (Redis GET of 3 chunks timed out after 300 ms (remote_timeout_ms)):"
                        + " serving without it and reconnecting in the background",
                "WARN remote tier " + url + " failed (Redis SET of 1 chunk (260 KiB) timed out after 300 ms"
                        + " (remote_timeout_ms)): serving without it and reconnecting in the background"),
                log.warnings());
        assertEquals(3, log.containing("is back").size(), log.lines().toString());
    }
}
