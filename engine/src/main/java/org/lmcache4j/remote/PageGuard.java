package org.lmcache4j.remote;

import java.util.concurrent.atomic.AtomicInteger;

/**
 * Keeps lettuce's event loop from touching a pool page after the engine has let go of it. The
 * event loop {@link #enter enters} before it copies into or out of the page; the engine
 * {@link #close closes} the guard before it releases the page's lease, and close waits for a copy
 * in progress (a few milliseconds at most) and refuses every later one. Without it, a reply that
 * lands after its read timed out, or a write encoded after its timeout fired, would copy into or
 * out of a page that is already someone else's, or already unmapped.
 */
final class PageGuard {
    private static final int OPEN = 0;
    private static final int BUSY = 1;
    private static final int CLOSED = 2;

    private final AtomicInteger state = new AtomicInteger(OPEN);

    /** Whether the caller may touch the page now; if so it must call {@link #exit} after. */
    boolean enter() {
        return state.compareAndSet(OPEN, BUSY);
    }

    /** Ends a touch; {@code again}: the page may be touched again (a write re-encoded on reconnect). */
    void exit(boolean again) {
        state.set(again ? OPEN : CLOSED);
    }

    /** After this returns, nothing touches the page through this guard. */
    void close() {
        while (!state.compareAndSet(OPEN, CLOSED) && state.get() != CLOSED) {
            Thread.onSpinWait();
        }
    }
}
