package org.lmcache4j.remote;

import io.lettuce.core.RedisCommandExecutionException;
import org.lmcache4j.Ticker;

import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.Supplier;

/**
 * What a failed command means for the tier. An error reply is a refusal ({@link RedisRefusal}):
 * the tier stays up, it is logged at most once a minute per reason ({@link RefusalLog}), and a
 * refused write is counted by reason and holds the next writes back ({@link WritePause}). Anything
 * else (a timeout, a closed or refused connection) marks the tier down ({@link RemoteHealth}), in
 * words that say what failed: {@code Redis GET of 3 chunks timed out after 2000 ms (remote_timeout_ms)}.
 */
final class CommandFailures {
    private final RemoteHealth health;
    private final RefusalLog refusals;
    private final WritePause pause;
    private final LongAdder[] writeRefusals = new LongAdder[RedisRefusal.values().length];

    CommandFailures(RemoteHealth health, String url, Ticker ticker, RemoteLog log) {
        this.health = health;
        this.refusals = new RefusalLog(url, ticker, log);
        this.pause = new WritePause(ticker);
        Arrays.setAll(writeRefusals, i -> new LongAdder());
    }

    /** Whether a write now is to be dropped unsent: Redis refused the last one, lately. */
    boolean writesPaused() {
        return pause.paused();
    }

    /** A write's send time, for {@link #written} and {@link #writeFailed}. */
    long sendTime() {
        return pause.now();
    }

    /** Redis took a write sent at {@code sentAt}. */
    void written(long sentAt) {
        pause.written(sentAt);
    }

    /** A write of {@code bytes} sent at {@code sentAt} failed. */
    void writeFailed(Throwable error, long sentAt, long bytes, long timeoutMs) {
        RedisRefusal refused = failed("write", error,
                () -> timedOut("SET", 1, " (" + size(bytes) + ")", timeoutMs, "remote_timeout_ms"));
        if (refused != null) {
            writeRefusals[refused.ordinal()].increment();
            pause.refused(sentAt);
        }
    }

    /**
     * A {@code command} ("read", "lookup") failed: a refusal is logged (at most once a minute per
     * reason), anything else marks the tier down; {@code timedOut} describes lettuce's timeout.
     */
    void readFailed(String command, Throwable error, Supplier<String> timedOut) {
        failed(command, error, timedOut);
    }

    /** Nothing came back in time, as {@code what} says: the tier is down. */
    void timedOut(String what) {
        health.failed(what);
    }

    /** Writes refused so far, by reason tag, in {@link RedisRefusal}'s order. */
    Map<String, Long> writeRefusals() {
        Map<String, Long> counts = new LinkedHashMap<>();
        for (RedisRefusal r : RedisRefusal.values()) {
            counts.put(r.tag, writeRefusals[r.ordinal()].sum());
        }
        return counts;
    }

    private RedisRefusal failed(String command, Throwable error, Supplier<String> timedOut) {
        RedisCommandExecutionException reply = RedisRefusal.replyIn(error);
        if (reply != null) {
            RedisRefusal reason = RedisRefusal.of(reply.getMessage());
            refusals.refused(command, reason, reply.getMessage());
            return reason;
        }
        health.failed(RedisRefusal.timeoutIn(error) ? timedOut.get() : RemoteHealth.describe(error));
        return null;
    }

    /** {@code Redis GET of 3 chunks timed out after 2000 ms (remote_timeout_ms)}. */
    static String timedOut(String command, int chunks, String detail, long millis, String setting) {
        return "Redis " + command + " of " + chunks + (chunks == 1 ? " chunk" : " chunks") + detail
                + " timed out after " + millis + " ms (" + setting + ")";
    }

    private static String size(long bytes) {
        return bytes >= 1 << 20 ? (bytes >> 20) + " MiB" : bytes >= 1 << 10 ? (bytes >> 10) + " KiB" : bytes + " bytes";
    }
}
