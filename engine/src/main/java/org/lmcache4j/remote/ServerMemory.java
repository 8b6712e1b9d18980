package org.lmcache4j.remote;

import io.lettuce.core.RedisCommandExecutionException;
import org.lmcache4j.Ticker;

import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.locks.LockSupport;

/**
 * The remote server's memory as Redis itself reports it ({@code INFO memory}, {@code used_memory}),
 * the source of LMCache's {@code lmcache:remote_cache_usage}. It is the whole server's memory: every
 * value in it, LMCache4j's records and anyone else's, plus Redis's own overhead. That is the only
 * honest figure, because what LMCache4j wrote is not what Redis holds (TTLs, {@code maxmemory}
 * eviction and other writers change it behind our back); summing our own writes would mislead.
 * A cluster's figure is the sum over its masters; through Sentinel it is the current master's.
 *
 * <h2>Never on a request path</h2>
 * A virtual thread asks at most every {@link #INTERVAL_NANOS} of the injected {@link Ticker}
 * (the first time as soon as the tier is up), waiting at most {@code remote_timeout_ms}; readers get
 * the last answer. While the tier is down nothing is asked. A poll that fails keeps the last value:
 * a timeout or a broken connection marks the tier down as any command's would (counted in
 * {@code lmcache:remote_errors}, logged once); an error reply (an ACL without {@code INFO}) or an
 * answer without {@code used_memory} is logged once and leaves the tier up.
 */
final class ServerMemory implements AutoCloseable {
    static final long INTERVAL_NANOS = TimeUnit.SECONDS.toNanos(10);
    /** How often the poller looks at the clock: cheap, and quick to notice a test's step of the ticker. */
    private static final long WAKE_NANOS = TimeUnit.MILLISECONDS.toNanos(200);
    private static final String FIELD = "used_memory:";

    private final String url;
    private final RemoteHealth health;
    private final CommandFailures failures;
    private final Ticker ticker;
    private final long timeoutMs;
    private volatile long usedBytes;
    private volatile boolean closed;
    private Thread poller;

    ServerMemory(String url, RemoteHealth health, CommandFailures failures, Ticker ticker, long timeoutMs) {
        this.url = url;
        this.health = health;
        this.failures = failures;
        this.ticker = ticker;
        this.timeoutMs = timeoutMs;
    }

    void start() {
        poller = Thread.ofVirtual().name("lmcache4j-remote-memory").start(this::run);
    }

    /** Bytes the server (or the cluster's masters) used at the last successful poll; 0 before one. */
    long usedBytes() {
        return usedBytes;
    }

    private void run() {
        boolean polled = false;
        long last = 0;
        while (!closed && !Thread.currentThread().isInterrupted()) {
            RedisLink link = health.link();
            long now = ticker.nanos();
            if (link != null && (!polled || now - last >= INTERVAL_NANOS)) {
                polled = true;
                last = now;
                poll(link);
            }
            LockSupport.parkNanos(WAKE_NANOS);
        }
    }

    private void poll(RedisLink link) {
        List<CompletableFuture<String>> replies = List.of();
        try {
            replies = link.memoryInfo();
            long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(timeoutMs);
            long sum = 0;
            for (CompletableFuture<String> reply : replies) {
                sum += usedMemory(reply.get(Math.max(0, deadline - System.nanoTime()), TimeUnit.NANOSECONDS));
            }
            usedBytes = sum;
        } catch (ExecutionException e) {
            failed(e.getCause());
        } catch (TimeoutException e) {
            replies.forEach(r -> r.cancel(false));
            failures.timedOut("Redis INFO memory timed out after " + timeoutMs + " ms (remote_timeout_ms)");
        } catch (NumberFormatException e) {
            health.logOnce("memory-field", "remote tier " + url + ": Redis's INFO memory has no used_memory ("
                    + e.getMessage() + "): lmcache:remote_cache_usage stays at its last value");
        } catch (RuntimeException e) {
            failed(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private void failed(Throwable error) {
        RedisCommandExecutionException reply = RedisRefusal.replyIn(error);
        if (reply == null) {
            health.failed(error);
            return;
        }
        health.logOnce("memory-refused", "remote tier " + url + ": Redis refused INFO memory (" + reply.getMessage()
                + "): lmcache:remote_cache_usage stays at its last value; allow the user INFO to export it");
    }

    /** The {@code used_memory:N} line of an {@code INFO memory} answer. */
    static long usedMemory(String info) {
        for (String line : info.split("\r?\n")) {
            if (line.startsWith(FIELD)) {
                return Long.parseLong(line.substring(FIELD.length()).strip());
            }
        }
        throw new NumberFormatException("no " + FIELD + " line");
    }

    @Override
    public void close() {
        closed = true;
        if (poller != null) {
            LockSupport.unpark(poller);
            try {
                poller.join(timeoutMs + TimeUnit.SECONDS.toMillis(1));
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }
}
