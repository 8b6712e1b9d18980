package org.lmcache4j.bridge;

import org.lmcache4j.Prefetch;
import org.lmcache4j.bridge.NativeStatus.EngineClosedException;

/**
 * The prefetches started through the C ABI ({@code lmcache4j_prefetch}), by handle (see
 * {@link CallerHandles}): one issued and closed since is {@link NativeStatus#CLOSED}, any other
 * number (or another engine's prefetch) is a wrong argument. Closing an engine forgets its
 * prefetches (the engine itself cancels them).
 */
final class PrefetchHandles extends CallerHandles<Prefetch> {
    PrefetchHandles() {
        super("prefetch", Prefetch::close);
    }

    /** The open prefetch {@code handle} of {@code engine}. */
    Prefetch get(long engine, long handle) {
        Entry<Prefetch> e = entry(handle);
        if (e == null) {
            if (issued(handle)) {
                throw new EngineClosedException("prefetch " + handle + " is closed");
            }
            throw new IllegalArgumentException(handle + " is not a prefetch handle");
        }
        if (e.engine() != engine) {
            throw new IllegalArgumentException("prefetch " + handle + " belongs to engine " + e.engine()
                    + ", not to engine " + engine);
        }
        return e.value();
    }

    /** Closes the prefetch (cancelling it if it runs); the handle is dead after. */
    void close(long engine, long handle) {
        Prefetch p = get(engine, handle);
        Entry<Prefetch> e = entry(handle);
        if (e == null || e.value() != p || !remove(handle, e)) {
            throw new EngineClosedException("prefetch " + handle + " is closed"); // another thread closed it first
        }
        p.close();
    }

    /** Forgets (and closes) every prefetch of a closed engine. */
    void forgetEngine(long engine) {
        forgetEngine(engine, true);
    }
}
