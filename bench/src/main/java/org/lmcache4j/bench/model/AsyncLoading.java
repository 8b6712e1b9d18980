package org.lmcache4j.bench.model;

import org.lmcache4j.CacheEngine;
import org.lmcache4j.KeyScope;
import org.lmcache4j.Prefetch;
import org.lmcache4j.PrefetchStats;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.time.Duration;
import java.util.Set;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;

/**
 * Asynchronous loading, as vLLM's {@code load_kv_async}: a request whose cached prefix is not all
 * in the CPU pool is handed to the engine's prefetch ({@code prefetchAndPin}); a loader thread
 * waits for it, retrieves the prefix from the pool into the request's blocks and unpins it, and
 * the request joins the first step after that, while the batch goes on decoding. A prefix the
 * pool already holds is copied at once, in the step, as the connector keeps a CPU-pool hit
 * synchronous; the requests named in {@code poolHitsInBackground} are loaded in the background
 * even then, so that the replay measures both ways side by side.
 * With a remote tier the lookup itself is a network round trip: then the scheduler answers "ask
 * again" (vLLM's {@code None}) and the lookup runs on the loader thread before the prefetch.
 * The pin matters: with a disk tier, the spiller may drop an unpinned prefetched chunk before the
 * retrieve reads it.
 */
final class AsyncLoading implements LoadingStrategy, AutoCloseable {
    /** Loads waiting or copying at once; more queue. Started up front: a new thread costs milliseconds on a busy host. */
    private static final int LOADERS = 8;
    private static final Logger LOG = LoggerFactory.getLogger(AsyncLoading.class);

    private final CacheEngine engine;
    private final Set<String> poolHitsInBackground;
    private final ThreadPoolExecutor loaders = new ThreadPoolExecutor(LOADERS, LOADERS, 0, TimeUnit.SECONDS,
            new LinkedBlockingQueue<>(), Thread.ofPlatform().daemon().name("reference-kv-loader-", 0).factory());

    AsyncLoading(CacheEngine engine) {
        this(engine, Set.of());
    }

    AsyncLoading(CacheEngine engine, Set<String> poolHitsInBackground) {
        this.engine = engine;
        this.poolHitsInBackground = Set.copyOf(poolHitsInBackground);
        loaders.prestartAllCoreThreads();
    }

    @Override
    public String name() {
        return "async";
    }

    @Override
    public KvLoad begin(String requestId, int[] prompt, long[] slots) {
        if (engine.config().remoteUrl().isPresent()) {
            // A lookup asks Redis (a network round trip): the scheduler answers "ask again" (vLLM's
            // None) and the lookup runs on a loader thread with the load, not in the step.
            Background load = new Background(requestId, prompt, slots, null, true);
            loaders.execute(load::run);
            return load;
        }
        if (engine.lookup(KeyScope.NONE, prompt) == 0) {
            return KvLoad.NONE; // nothing cached anywhere: vLLM is told 0 tokens, no load starts
        }
        long readBefore = readBelowPool();
        Prefetch prefetch = engine.prefetchAndPin(requestId, KeyScope.NONE, prompt);
        boolean done = prefetch.isDone();
        boolean inPool = done && readBelowPool() == readBefore; // nothing read below the pool
        if (done && !(inPool && poolHitsInBackground.contains(requestId))) {
            try { // in the pool already (or read that fast): copied now, in this step
                return new SyncLoading.Landed(retrieve(engine, prompt, slots), !inPool, System.nanoTime());
            } finally {
                engine.unpin(requestId);
                prefetch.close();
            }
        }
        Background load = new Background(requestId, prompt, slots, prefetch, !inPool);
        loaders.execute(load::run);
        return load;
    }

    /** Tokens the engine's prefetches have read from the disk and remote tiers so far. */
    private long readBelowPool() {
        PrefetchStats p = engine.stats().prefetch();
        return p.diskTokens() + p.remoteTokens();
    }

    /**
     * Retrieves the cached prefix of {@code prompt} into {@code slots}, never its last token (whose
     * logits the request needs, so it is computed); returns the tokens loaded.
     */
    static int retrieve(CacheEngine engine, int[] prompt, long[] slots) {
        long[] target = slots.clone();
        target[prompt.length - 1] = -1;
        return Math.min(engine.retrieve(prompt, target, 0), prompt.length - 1);
    }

    /** Waits for the loads still running (a run's end has waited for its own already). */
    @Override
    public void close() {
        loaders.close();
    }

    /**
     * A load on a loader thread: the lookup when it was not done in the step ({@code prefetch}
     * null), the prefetch, then the retrieve from the pool.
     */
    private final class Background implements KvLoad {
        private final String requestId;
        private final int[] prompt;
        private final long[] slots;
        private final CountDownLatch ended = new CountDownLatch(1);
        private volatile Prefetch prefetch;
        private volatile boolean aborted;
        private volatile int loaded;
        private volatile long landedAt = -1;
        /** Until the lookup says the prompt misses, a lookup or a read below the pool is in flight. */
        private volatile boolean belowPool;

        Background(String requestId, int[] prompt, long[] slots, Prefetch prefetch, boolean belowPool) {
            this.requestId = requestId;
            this.prompt = prompt;
            this.slots = slots;
            this.prefetch = prefetch;
            this.belowPool = belowPool;
        }

        void run() {
            try {
                if (prefetch == null) {
                    if (aborted || engine.lookup(KeyScope.NONE, prompt) == 0) {
                        belowPool = false; // a miss: the request computes its prompt
                        return;
                    }
                    prefetch = engine.prefetchAndPin(requestId, KeyScope.NONE, prompt);
                }
                // A prefetch always ends: its reads are bounded by the tiers' timeouts.
                while (!prefetch.await(Duration.ofMillis(aborted ? 1 : 100))) {
                    if (aborted) {
                        prefetch.cancel();
                    }
                }
                if (!aborted) {
                    loaded = retrieve(engine, prompt, slots); // what arrived; the request computes the rest
                    landedAt = System.nanoTime();
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            } catch (RuntimeException e) { // the request computes what did not arrive, as after a failed load
                loaded = 0;
                LOG.warn("the background load of {} failed; it computes its whole prompt: {}", requestId, e.toString());
            } finally {
                if (prefetch != null) {
                    engine.unpin(requestId);
                    prefetch.close();
                }
                ended.countDown();
            }
        }

        @Override
        public boolean landed() {
            return ended.getCount() == 0 && !aborted;
        }

        @Override
        public int loadedTokens() {
            return loaded;
        }

        @Override
        public boolean belowPool() {
            return belowPool;
        }

        @Override
        public void abort() {
            aborted = true;
            Prefetch p = prefetch;
            if (p != null) {
                p.cancel();
            } // else the loader sees the flag before it starts one, or cancels it in its wait
        }

        @Override
        public long landedAtNanos() {
            return landed() ? landedAt : -1;
        }

        @Override
        public boolean settled() {
            return ended.getCount() == 0;
        }

        @Override
        public void awaitSettled() {
            try {
                ended.await();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException("interrupted while a load was still writing into its blocks", e);
            }
        }
    }
}
