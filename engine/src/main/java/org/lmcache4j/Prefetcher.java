package org.lmcache4j;

import org.lmcache4j.config.PrefetchOptions;
import org.lmcache4j.keys.ChunkKey;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Runs the engine's prefetches on at most {@code prefetch_max_concurrency} worker threads; more
 * wait in a queue, in the order they came, holding no page. A prefetch with nothing to read (the
 * whole prompt is in the pool, or there is no tier below it) runs on the caller's thread and has
 * finished when {@link #start} returns. Idle workers end after a while, so an engine that never
 * prefetches holds no thread.
 */
final class Prefetcher {
    private static final Logger LOG = LoggerFactory.getLogger(Prefetcher.class);
    /** How long {@link #close()} waits for running prefetches: their reads end within the tiers' timeouts. */
    private static final long CLOSE_WAIT_SECONDS = 60;

    private final CacheEngine engine;
    private final ThreadPoolExecutor workers;
    private final Set<Prefetch> live = ConcurrentHashMap.newKeySet();
    private final PrefetchCounters counters = new PrefetchCounters();

    Prefetcher(CacheEngine engine, PrefetchOptions options) {
        this.engine = engine;
        AtomicInteger threads = new AtomicInteger();
        int n = options.maxConcurrency();
        this.workers = new ThreadPoolExecutor(n, n, 30, TimeUnit.SECONDS, new LinkedBlockingQueue<>(),
                r -> Thread.ofPlatform().daemon().name("lmcache4j-prefetch-" + threads.incrementAndGet()).unstarted(r));
        workers.allowCoreThreadTimeOut(true);
    }

    /** Starts bringing {@code tokens}' prefix into the pool, pinned for {@code pinFor} when it is not null. */
    Prefetch start(String pinFor, KeyScope scope, int[] tokens) {
        RequestCheck.tokens(tokens);
        int[] own = tokens.clone(); // the caller may reuse its array while the prefetch runs
        ChunkKey[] keys = engine.hasher().keys(scope, own);
        Prefetch handle = new Prefetch(own.length, counters);
        counters.started();
        PrefetchOperation op = new PrefetchOperation(engine, pinFor, scope, own, keys, handle, counters);
        if (!needsIo(keys, own)) {
            op.run();
            return handle;
        }
        live.add(handle);
        try {
            workers.execute(() -> {
                try {
                    op.run();
                } finally {
                    live.remove(handle);
                }
            });
        } catch (RejectedExecutionException closing) {
            live.remove(handle);
            handle.cancel();
        }
        return handle;
    }

    /** Whether a tier below the pool may hold a chunk of the prompt that the pool lacks. */
    private boolean needsIo(ChunkKey[] keys, int[] tokens) {
        if (!engine.disk().enabled() && !engine.remote().enabled()) {
            return false;
        }
        return engine.locked(() -> engine.leadingHits(keys, tokens, 0).size() < keys.length);
    }

    PrefetchStats stats() {
        return counters.snapshot();
    }

    /**
     * Cancels every prefetch, lets the running ones end (their reads finish, their chunks are
     * settled, their leases closed) and stops the workers. Idempotent.
     */
    void close() {
        live.forEach(Prefetch::cancel);
        workers.shutdown();
        try {
            if (!workers.awaitTermination(CLOSE_WAIT_SECONDS, TimeUnit.SECONDS)) {
                LOG.error("{} prefetches did not end within {} s of the engine's close", live.size(), CLOSE_WAIT_SECONDS);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
