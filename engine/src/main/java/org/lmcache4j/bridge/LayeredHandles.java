package org.lmcache4j.bridge;

import org.lmcache4j.LayeredOperation;

import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.LongPredicate;

/**
 * The layer-by-layer stores and retrieves opened through the C ABI ({@code lmcache4j_store_layers},
 * {@code lmcache4j_retrieve_layers}), by handle: 1, 2, 3… never reused, each valid only with the
 * engine that opened it and until {@code lmcache4j_close_layers} or that engine's close. A handle
 * the caller forgets costs nothing past its engine's close: the engine gives the operation up and
 * {@link #dropEngine} forgets it. Thread-safe.
 */
final class LayeredHandles {
    private record Entry(long engine, LayeredOperation op) {
    }

    private final Map<Long, Entry> open = new ConcurrentHashMap<>();
    private final AtomicLong lastIssued = new AtomicLong();

    /** Issues a handle for {@code op}, unless its engine closed meanwhile (as {@link PrefetchHandles#add} does). */
    long add(long engine, LayeredOperation op, LongPredicate isOpen) {
        long handle = lastIssued.incrementAndGet();
        open.put(handle, new Entry(engine, op));
        if (!isOpen.test(engine)) {
            open.remove(handle);
            op.close();
            throw new NativeStatus.EngineClosedException("engine " + engine + " closed while the operation started");
        }
        return handle;
    }

    /** Open handles, of every engine (for tests). */
    int size() {
        return open.size();
    }

    LayeredOperation get(long engine, long handle) {
        Entry e = open.get(handle);
        if (e == null || e.engine != engine) {
            throw unknown(engine, handle);
        }
        return e.op;
    }

    /** Forgets the handle and returns its operation (the caller closes it). */
    LayeredOperation remove(long engine, long handle) {
        Entry e = open.get(handle);
        if (e == null || e.engine != engine || !open.remove(handle, e)) {
            throw unknown(engine, handle);
        }
        return e.op;
    }

    /** Forgets every handle of a closed engine (the engine has given their operations up). */
    void dropEngine(long engine) {
        open.values().removeIf(e -> e.engine == engine);
    }

    private IllegalArgumentException unknown(long engine, long handle) {
        return new IllegalArgumentException(handle + " is not an open layer-by-layer operation of engine " + engine
                + (handle > 0 && handle <= lastIssued.get() ? " (closed already, or another engine's)" : ""));
    }
}
