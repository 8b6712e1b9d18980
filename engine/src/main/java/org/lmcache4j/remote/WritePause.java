package org.lmcache4j.remote;

import org.lmcache4j.Ticker;

import java.util.concurrent.TimeUnit;

/**
 * Holds writes back while Redis refuses them. A refused write costs as much as a written one (the
 * record is checksummed, encoded and sent whole, 32 MiB for a Mistral-7B chunk, before Redis
 * answers OOM), and the next one would be refused too. So after a refusal, writes are dropped at
 * once for 1 s; then one goes out to ask again: refused, the pause doubles (up to 10 s); written,
 * the pause ends. Refusals of writes sent before the pause began (the ones in flight) change
 * nothing. Time is the tier's {@link Ticker}.
 */
final class WritePause {
    static final long FIRST_NANOS = TimeUnit.SECONDS.toNanos(1);
    static final long MAX_NANOS = TimeUnit.SECONDS.toNanos(10);

    private final Ticker ticker;
    private volatile boolean pausing;
    private long pauseNanos; // guarded by this
    private long since;      // guarded by this: when the current pause began
    private volatile long until;

    WritePause(Ticker ticker) {
        this.ticker = ticker;
    }

    /** Now, on the tier's clock: a write's send time, for {@link #refused} and {@link #written}. */
    long now() {
        return ticker.nanos();
    }

    /** Whether a write now is to be dropped without being sent. */
    boolean paused() {
        return pausing && ticker.nanos() - until < 0;
    }

    /** Redis refused a write sent at {@code sentAt}. */
    synchronized void refused(long sentAt) {
        if (pausing && sentAt - since < 0) {
            return; // in flight when the pause began: no news
        }
        long now = ticker.nanos();
        pauseNanos = pausing ? Math.min(MAX_NANOS, pauseNanos * 2) : FIRST_NANOS;
        since = now;
        until = now + pauseNanos;
        pausing = true;
    }

    /** Redis took a write sent at {@code sentAt}: if it went out since the pause began, the pause ends. */
    void written(long sentAt) {
        if (pausing) {
            synchronized (this) {
                if (pausing && sentAt - since >= 0) {
                    pausing = false;
                    pauseNanos = 0;
                }
            }
        }
    }
}
