package org.lmcache4j.remote;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;
import java.util.function.Supplier;

/**
 * Whether the remote tier is usable, and getting it back when it is not. While healthy,
 * {@link #link()} hands out the connection; the first failure marks the tier down (logged once),
 * after which {@link #link()} answers null at once and a background thread probes Redis with
 * back-off (0.5 s doubling to 30 s) until a PING succeeds, then marks it up (logged once).
 */
final class RemoteHealth implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(RedisTier.class);
    private static final long FIRST_BACKOFF_NANOS = TimeUnit.MILLISECONDS.toNanos(500);
    private static final long MAX_BACKOFF_NANOS = TimeUnit.SECONDS.toNanos(30);

    private final RemoteUrl url;
    private final Supplier<RedisLink> connector;
    private final AtomicLong errors = new AtomicLong();
    private final AtomicLong changes = new AtomicLong();
    private final Set<String> logged = ConcurrentHashMap.newKeySet();
    private volatile RedisLink link;
    private final java.util.concurrent.atomic.AtomicBoolean healthy = new java.util.concurrent.atomic.AtomicBoolean();
    private volatile boolean closed;
    private Thread prober;

    RemoteHealth(RemoteUrl url, Supplier<RedisLink> connector) {
        this.url = url;
        this.connector = connector;
    }

    /** Tries to connect once now, then leaves the rest to the prober. */
    void start() {
        try {
            link = connector.get();
            healthy.set(true);
            LOG.info("remote tier {} connected", url.redacted());
        } catch (RuntimeException e) {
            errors.incrementAndGet();
            LOG.warn("remote tier {} is unreachable ({}): serving without it and reconnecting in the background",
                    url.redacted(), e.getMessage());
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

    /** An operation failed: the tier is down until a probe succeeds. */
    void failed(Throwable cause) {
        errors.incrementAndGet();
        if (!closed && healthy.compareAndSet(true, false)) {
            changes.incrementAndGet();
            LOG.warn("remote tier {} failed ({}): serving without it and reconnecting in the background",
                    url.redacted(), rootMessage(cause));
            LockSupport.unpark(prober);
        }
    }

    void logOnce(String kind, String message) {
        if (logged.add(kind)) {
            LOG.warn(message);
        }
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
                LOG.info("remote tier {} is back", url.redacted());
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
            return false;
        }
    }

    private static String rootMessage(Throwable t) {
        Throwable root = t;
        while (root.getCause() != null && root.getCause() != root) {
            root = root.getCause();
        }
        return root.getClass().getSimpleName() + ": " + root.getMessage();
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
