package org.lmcache4j.remote;

import io.lettuce.core.RedisCommandExecutionException;
import io.lettuce.core.RedisConnectionException;

import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;
import java.util.function.Supplier;

/**
 * Whether the remote tier is usable, and getting it back when it is not. While healthy,
 * {@link #link()} hands out the connection; the first transport failure (a timeout, a refused or
 * reset connection) marks the tier down (logged once), after which {@link #link()} answers null at
 * once and a background thread probes Redis with back-off (0.5 s doubling to 30 s) until a PING
 * succeeds, then marks it up (logged once). An error reply is not a failure here: the server
 * answered ({@link RedisRefusal}). A server that wants a password it was not given (or refuses the
 * one given) says so once, as an authentication failure rather than "unreachable", however often the
 * prober tries again.
 */
final class RemoteHealth implements AutoCloseable {
    private static final long FIRST_BACKOFF_NANOS = TimeUnit.MILLISECONDS.toNanos(500);
    private static final long MAX_BACKOFF_NANOS = TimeUnit.SECONDS.toNanos(30);

    private final RemoteUrl url;
    private final Supplier<RedisLink> connector;
    private final RemoteLog log;
    private final AtomicLong errors = new AtomicLong();
    private final AtomicLong changes = new AtomicLong();
    private final Set<String> logged = ConcurrentHashMap.newKeySet();
    private final AtomicBoolean healthy = new AtomicBoolean();
    private final AtomicBoolean authLogged = new AtomicBoolean();
    private volatile RedisLink link;
    private volatile boolean connectedOnce;
    private volatile boolean closed;
    private Thread prober;

    RemoteHealth(RemoteUrl url, Supplier<RedisLink> connector, RemoteLog log) {
        this.url = url;
        this.connector = connector;
        this.log = log;
    }

    /** Tries to connect once now, then leaves the rest to the prober. */
    void start() {
        try {
            link = connector.get();
            connectedOnce = true;
            healthy.set(true);
            log.info("remote tier " + url.redacted() + " connected");
        } catch (RuntimeException e) {
            errors.incrementAndGet();
            if (!authFailed(e)) {
                log.warn("remote tier " + url.redacted() + " is unreachable (" + describe(e)
                        + "): serving without it and reconnecting in the background");
            }
        }
        prober = Thread.ofVirtual().name("lmcache4j-remote-prober").start(this::probe);
    }

    /** The connection to use, or null while the tier is down. */
    RedisLink link() {
        return healthy.get() ? link : null;
    }

    boolean healthy() {
        return healthy.get();
    }

    long errors() {
        return errors.get();
    }

    long changes() {
        return changes.get();
    }

    /** An operation failed on the connection: the tier is down until a probe succeeds. */
    void failed(Throwable cause) {
        failed(describe(cause));
    }

    /** An operation failed on the connection, as {@code what} says: the tier is down until a probe succeeds. */
    void failed(String what) {
        errors.incrementAndGet();
        if (!closed && healthy.compareAndSet(true, false)) {
            changes.incrementAndGet();
            log.warn("remote tier " + url.redacted() + " failed (" + what
                    + "): serving without it and reconnecting in the background");
            LockSupport.unpark(prober);
        }
    }

    void logOnce(String kind, String message) {
        if (logged.add(kind)) {
            log.warn(message);
        }
    }

    /**
     * Whether {@code e} is the server refusing to authenticate us (NOAUTH: a password is required and
     * none was given; WRONGPASS); the first one is logged, until the tier is connected again.
     */
    private boolean authFailed(Throwable e) {
        RedisCommandExecutionException reply = RedisRefusal.replyIn(e);
        if (reply == null || RedisRefusal.of(reply.getMessage()) != RedisRefusal.AUTH) {
            return false;
        }
        if (authLogged.compareAndSet(false, true)) {
            log.warn("remote tier " + url.redacted() + ": authentication failed (" + reply.getMessage() + "): "
                    + RedisRefusal.AUTH.hint(reply.getMessage())
                    + "; serving without it and trying again in the background");
        }
        return true;
    }

    private void probe() {
        long backoff = FIRST_BACKOFF_NANOS;
        while (!closed) {
            if (healthy.get()) {
                LockSupport.parkNanos(TimeUnit.SECONDS.toNanos(1));
                backoff = FIRST_BACKOFF_NANOS;
                continue;
            }
            LockSupport.parkNanos(backoff);
            if (closed) {
                return;
            }
            if (reachable() && !closed) {
                healthy.set(true);
                changes.incrementAndGet();
                authLogged.set(false);
                log.info("remote tier " + url.redacted() + (connectedOnce ? " is back" : " connected"));
                connectedOnce = true;
            } else {
                backoff = Math.min(MAX_BACKOFF_NANOS, backoff * 2);
            }
        }
    }

    private boolean reachable() {
        try {
            RedisLink current = link;
            if (current == null) {
                current = connector.get();
                link = current;
                if (closed) { // close() ran while this connected: it could not see the new link
                    current.close();
                    return false;
                }
            }
            return "PONG".equals(current.commands().ping().get(5, TimeUnit.SECONDS));
        } catch (Exception e) {
            errors.incrementAndGet();
            if (e instanceof InterruptedException) {
                Thread.currentThread().interrupt();
            }
            authFailed(e);
            return false;
        }
    }

    /**
     * A failure in a few words: the innermost cause ({@code ConnectException: Connection refused}),
     * after lettuce's own message where it names the address ({@code Unable to connect to h:p}).
     */
    static String describe(Throwable t) {
        Throwable root = t;
        while (root.getCause() != null && root.getCause() != root) {
            root = root.getCause();
        }
        String inner = root.getClass().getSimpleName() + (root.getMessage() == null ? "" : ": " + root.getMessage());
        if (root != t && t instanceof RedisConnectionException && t.getMessage() != null) {
            return t.getMessage() + ": " + inner;
        }
        return inner;
    }

    @Override
    public void close() {
        closed = true;
        healthy.set(false);
        if (prober != null) {
            LockSupport.unpark(prober);
            try {
                prober.join(TimeUnit.SECONDS.toMillis(10));
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        RedisLink current = link;
        if (current != null) {
            current.close();
        }
    }
}
