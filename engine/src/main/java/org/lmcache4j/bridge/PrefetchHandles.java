package org.lmcache4j.bridge;

import org.lmcache4j.Prefetch;
import org.lmcache4j.bridge.NativeStatus.EngineClosedException;

import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.LongPredicate;

/**
 * The prefetches started through the C ABI ({@code lmcache4j_prefetch}), by handle. As with
 * engines, handles are 1, 2, 3… across every engine and never reused, so a stale handle is told
 * from a wrong one: one issued and closed since is {@link NativeStatus#CLOSED}, any other number
 * (or another engine's prefetch) is a wrong argument. Closing an engine forgets its prefetches
 * (the engine itself cancels them). Thread-safe.
 */
final class PrefetchHandles {
    private record Entry(long engine, Prefetch prefetch) {
    }

    private final Map<Long, Entry> open = new ConcurrentHashMap<>();
    private final AtomicLong lastIssued = new AtomicLong();

    /**
     * Issues a handle for {@code prefetch} of {@code engine}, unless the engine closed meanwhile
     * ({@code isOpen} says no once its handles are forgotten): then the prefetch is closed and
     * nothing is kept, since the close that forgets its engine's handles may have run already.
     */
    long add(long engine, Prefetch prefetch, LongPredicate isOpen) {
        long handle = lastIssued.incrementAndGet();
        open.put(handle, new Entry(engine, prefetch));
        if (!isOpen.test(engine)) {
            open.remove(handle);
            prefetch.close();
            throw new EngineClosedException("engine " + engine + " closed while the prefetch started");
        }
        return handle;
    }

    /** The open prefetch {@code handle} of {@code engine}. */
    Prefetch get(long engine, long handle) {
        Entry e = open.get(handle);
        if (e == null) {
            if (handle > 0 && handle <= lastIssued.get()) {
                throw new EngineClosedException("prefetch " + handle + " is closed");
            }
            throw new IllegalArgumentException(handle + " is not a prefetch handle");
        }
        if (e.engine != engine) {
            throw new IllegalArgumentException("prefetch " + handle + " belongs to engine " + e.engine + ", not to engine "
                    + engine);
        }
        return e.prefetch;
    }

    /** Closes the prefetch (cancelling it if it runs); the handle is dead after. */
    void close(long engine, long handle) {
        Prefetch p = get(engine, handle);
        if (open.remove(handle) != null) {
            p.close();
        } else {
            throw new EngineClosedException("prefetch " + handle + " is closed"); // another thread closed it first
        }
    }

    /** Forgets (and closes) every prefetch of a closed engine. */
    void forgetEngine(long engine) {
        open.entrySet().removeIf(e -> {
            if (e.getValue().engine != engine) {
                return false;
            }
            e.getValue().prefetch.close();
            return true;
        });
    }

    /** Open prefetch handles, of every engine (for tests). */
    int size() {
        return open.size();
    }
}
