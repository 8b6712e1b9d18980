package org.lmcache4j.bridge;

import org.lmcache4j.bridge.NativeStatus.EngineClosedException;

import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;
import java.util.function.LongPredicate;

/**
 * Objects an engine opened for a C caller (prefetches, layer-by-layer operations), by handle: 1,
 * 2, 3… across every engine and never reused, so that a handle issued and closed since is told
 * from a number never issued. Each is valid only with the engine that opened it. What a stale or
 * wrong handle answers is the subclass's. Thread-safe.
 */
abstract class CallerHandles<T> {
    record Entry<T>(long engine, T value) {
    }

    private final Map<Long, Entry<T>> open = new ConcurrentHashMap<>();
    private final AtomicLong lastIssued = new AtomicLong();
    private final String noun;
    private final Consumer<T> closer;

    /** {@code noun}: what the objects are, in messages; {@code closer}: how one is closed. */
    CallerHandles(String noun, Consumer<T> closer) {
        this.noun = noun;
        this.closer = closer;
    }

    /**
     * Issues a handle for {@code value} of {@code engine}, unless the engine closed meanwhile
     * ({@code isOpen} says no once its handles are forgotten): then {@code value} is closed and
     * nothing is kept, since the close that forgets its engine's handles may have run already.
     */
    final long add(long engine, T value, LongPredicate isOpen) {
        long handle = lastIssued.incrementAndGet();
        open.put(handle, new Entry<>(engine, value));
        if (!isOpen.test(engine)) {
            open.remove(handle);
            closer.accept(value);
            throw new EngineClosedException("engine " + engine + " closed while the " + noun + " started");
        }
        return handle;
    }

    /** The open entry of {@code handle}, or null. */
    final Entry<T> entry(long handle) {
        return open.get(handle);
    }

    /** Whether {@code handle} was issued (it may be closed since). */
    final boolean issued(long handle) {
        return handle > 0 && handle <= lastIssued.get();
    }

    /** Forgets {@code e} under {@code handle}; false if another thread did first. */
    final boolean remove(long handle, Entry<T> e) {
        return open.remove(handle, e);
    }

    /** Forgets every handle of a closed engine, closing what it names if {@code close}. */
    final void forgetEngine(long engine, boolean close) {
        open.values().removeIf(e -> {
            if (e.engine() != engine) {
                return false;
            }
            if (close) {
                closer.accept(e.value());
            }
            return true;
        });
    }

    /** Open handles, of every engine (for tests). */
    final int size() {
        return open.size();
    }
}
