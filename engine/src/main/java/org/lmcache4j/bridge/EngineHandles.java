package org.lmcache4j.bridge;

import org.lmcache4j.CacheEngine;
import org.lmcache4j.bridge.NativeStatus.EngineClosedException;

import java.io.IOException;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The engines opened through the C ABI, by handle. Handles are 1, 2, 3… in the order engines
 * open, and never reused: a handle at or below the last one issued and no longer open is a
 * closed engine; any other number was never a handle. Thread-safe.
 */
final class EngineHandles {
    private static final class Open {
        final CacheEngine engine;
        LookupServer server; // guarded by this

        Open(CacheEngine engine) {
            this.engine = engine;
        }
    }

    private final Map<Long, Open> open = new ConcurrentHashMap<>();
    private final AtomicLong lastIssued = new AtomicLong();

    long add(CacheEngine engine) {
        long handle = lastIssued.incrementAndGet();
        open.put(handle, new Open(engine));
        return handle;
    }

    CacheEngine get(long handle) {
        return entry(handle).engine;
    }

    boolean isOpen(long handle) {
        return open.containsKey(handle);
    }

    /** Starts serving lookups on {@code socket} for the engine; one socket per engine. */
    Path serve(long handle, Path socket) throws IOException {
        Open e = entry(handle);
        synchronized (e) {
            if (open.get(handle) != e) {
                throw closedOrUnknown(handle); // closed between entry() and here: serve nothing for it
            }
            if (e.server != null) {
                throw new IllegalStateException("engine " + handle + " already serves lookups at " + e.server.path());
            }
            e.server = LookupServer.start(e.engine, socket);
            return e.server.path();
        }
    }

    /** Stops the engine's lookup server, if any, and closes the engine; the handle is dead after. */
    void close(long handle) {
        Open e = open.remove(handle);
        if (e == null) {
            throw closedOrUnknown(handle);
        }
        synchronized (e) {
            if (e.server != null) {
                e.server.close();
            }
        }
        e.engine.close();
    }

    private Open entry(long handle) {
        Open e = open.get(handle);
        if (e == null) {
            throw closedOrUnknown(handle);
        }
        return e;
    }

    private RuntimeException closedOrUnknown(long handle) {
        if (handle > 0 && handle <= lastIssued.get()) {
            return new EngineClosedException("engine " + handle + " is closed");
        }
        return new IllegalArgumentException(handle + " is not an engine handle");
    }
}
