package org.lmcache4j.remote;

import org.junit.jupiter.api.Test;

import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Writes wait 1 s after a refusal, doubling to 10 s while refusals go on; a written one ends it. */
class WritePauseTest {
    private final AtomicLong now = new AtomicLong(7_000_000_000L);
    private final WritePause pause = new WritePause(now::get);

    private void advanceMillis(long ms) {
        now.addAndGet(TimeUnit.MILLISECONDS.toNanos(ms));
    }

    @Test
    void refusals_pauseWrites_doublingToTenSeconds() {
        assertFalse(pause.paused());
        long sent = pause.now();
        pause.refused(sent);
        assertTrue(pause.paused());
        pause.refused(sent - 1); // in flight before the pause: no news
        advanceMillis(999);
        assertTrue(pause.paused());
        advanceMillis(1);
        assertFalse(pause.paused(), "1 s");
        long[] expectMillis = {2000, 4000, 8000, 10_000, 10_000};
        for (long ms : expectMillis) {
            pause.refused(pause.now());
            advanceMillis(ms - 1);
            assertTrue(pause.paused(), ms + " ms");
            advanceMillis(1);
            assertFalse(pause.paused(), ms + " ms");
        }
    }

    @Test
    void aWriteSentSinceThePause_endsIt_anOlderOneDoesNot() {
        long old = pause.now();
        advanceMillis(10);
        pause.refused(pause.now());
        pause.written(old);
        assertTrue(pause.paused(), "written before the refusal: says nothing about now");
        advanceMillis(1000);
        long probe = pause.now();
        pause.written(probe);
        assertFalse(pause.paused());
        pause.refused(pause.now());
        advanceMillis(999);
        assertTrue(pause.paused(), "back to 1 s after a write went through");
    }
}
