package org.lmcache4j.memory;

import java.lang.foreign.MemorySegment;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * A counted reference to one pool page: while any lease is open the page is neither freed nor
 * reused. Closing releases it exactly once; closing twice is a bug and throws.
 */
public final class PageLease implements AutoCloseable {
    private final ChunkPool pool;
    private final int page;
    private final AtomicBoolean released = new AtomicBoolean();

    PageLease(ChunkPool pool, int page) {
        this.pool = pool;
        this.page = page;
    }

    public int page() {
        return page;
    }

    /** The page's memory. */
    public MemorySegment segment() {
        return pool.page(page);
    }

    @Override
    public void close() {
        if (!released.compareAndSet(false, true)) {
            throw new IllegalStateException("lease of page " + page + " released twice");
        }
        pool.endLease(page);
    }
}
