package org.lmcache4j.remote;

import org.junit.jupiter.api.Test;

import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Error replies are warned about at most once a minute per reason, on the injected clock. */
@org.lmcache4j.ProvokesFaults("refusal warnings")
class RefusalLogTest {
    private static final String OOM = "OOM command not allowed when used memory > 'maxmemory'.";
    private static final String READONLY = "READONLY You can't write against a read only replica.";

    private final AtomicLong now = new AtomicLong(5_000_000_000L);
    private final CapturedLog log = new CapturedLog();
    private final RefusalLog refusals = new RefusalLog("redis://127.0.0.1:6379", now::get, log);

    private void advanceSeconds(long s) {
        now.addAndGet(TimeUnit.SECONDS.toNanos(s));
    }

    @Test
    void thousandRefusalsInAMinute_oneWarning_thenOneWithTheCount() {
        for (int i = 0; i < 1000; i++) {
            refusals.refused("write", RedisRefusal.OOM, OOM);
            now.addAndGet(TimeUnit.MILLISECONDS.toNanos(50)); // 50 s in all
        }
        assertEquals(1, log.lines().size(), log.lines().toString());
        String first = log.lines().getFirst();
        assertTrue(first.startsWith("WARN remote tier redis://127.0.0.1:6379: Redis refused a write (" + OOM + "): "
                + "Redis is at its maxmemory and cannot make room"), first);
        assertTrue(first.contains("lmcache:remote_write_refusals{reason=\"oom\"}"), first);
        assertTrue(first.contains("one is tried every 1 to 10 s"), first);
        assertTrue(first.endsWith("Logged at most once a minute per reason"), first);

        advanceSeconds(9); // 59 s after the warning
        refusals.refused("write", RedisRefusal.OOM, OOM);
        assertEquals(1, log.lines().size());
        advanceSeconds(2); // 61 s
        refusals.refused("read", RedisRefusal.OOM, OOM);
        assertEquals(2, log.lines().size());
        assertEquals("WARN remote tier redis://127.0.0.1:6379: Redis refused 1001 more commands (oom) in the last 61 s,"
                + " the last a read (" + OOM + "): " + RedisRefusal.OOM.hint(OOM), log.lines().get(1));

        advanceSeconds(3600); // quiet for an hour: the next one is warned about at once
        refusals.refused("write", RedisRefusal.OOM, OOM);
        assertEquals(3, log.lines().size());
        assertTrue(log.lines().get(2).contains("refused 1 more command (oom) in the last 3600 s"), log.lines().get(2));
    }

    @Test
    void eachReason_hasItsOwnMinute() {
        refusals.refused("write", RedisRefusal.OOM, OOM);
        refusals.refused("write", RedisRefusal.READONLY, READONLY);
        refusals.refused("write", RedisRefusal.OOM, OOM);
        refusals.refused("write", RedisRefusal.READONLY, READONLY);
        refusals.refused("read", RedisRefusal.OTHER, "WRONGTYPE Operation against a key holding the wrong kind of value");
        assertEquals(3, log.warnings().size(), log.lines().toString());
        assertTrue(log.warnings().get(1).contains("(" + READONLY + "): remote_url names a read-only replica"));
        assertTrue(log.warnings().get(2).contains("Redis refused a read (WRONGTYPE Operation"));
        assertTrue(log.warnings().get(2).contains("a refused read is a miss (lmcache:remote_read_failures)"));
    }
}
