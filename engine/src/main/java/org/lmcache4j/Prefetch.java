package org.lmcache4j;

import java.time.Duration;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

/**
 * A prefetch started by {@link CacheEngine#prefetch}: the prompt's leading chunks that the disk
 * and remote tiers hold are being read into the CPU pool in the background, so that the retrieve
 * that follows loads them from memory.
 *
 * <pre>{@code
 * try (Prefetch p = engine.prefetch(KeyScope.NONE, tokens)) {
 *     // ... the serving loop goes on ...
 *     if (p.await(Duration.ofSeconds(2))) {
 *         engine.retrieve(tokens, slotMapping, 0);   // from the pool: p.readyTokens() tokens
 *     }
 * }
 * }</pre>
 *
 * <p>A chunk a prefetch brought in is published exactly as a retrieve promotes one: only after its
 * record verified, and only in prefix order (a record that fails its check is a miss and ends
 * the prefix). From then on it is an ordinary cached chunk: the eviction policy may drop it
 * unless the prefetch pinned it ({@link CacheEngine#prefetchAndPin}).
 *
 * <p>Thread-safe. {@link #cancel()} and {@link #close()} never block and never throw.
 */
public final class Prefetch implements AutoCloseable {
    /** Where a prefetch is; the last three are final. */
    public enum State {
        /** Waiting for one of the {@code prefetch_max_concurrency} workers; it holds no page yet. */
        QUEUED,
        /** Reading records into the pool. */
        RUNNING,
        /** Finished: {@link #readyTokens()} leading tokens were in the pool when it did. */
        DONE,
        /** Stopped by {@link #cancel()}, {@link #close()} or the engine's close: it took no pin. */
        CANCELLED,
        /** Ended by an unexpected error (logged); whatever it had not published was dropped. */
        FAILED
    }

    private final int promptTokens;
    private final PrefetchCounters counters;
    private final CountDownLatch finished = new CountDownLatch(1);
    private State state = State.QUEUED;
    private boolean cancelRequested;
    /** Set once the prefetch has decided its outcome: from then on {@link #cancel()} changes nothing. */
    private boolean committed;
    private boolean closed;
    private volatile int readyTokens;

    Prefetch(int promptTokens, PrefetchCounters counters) {
        this.promptTokens = promptTokens;
        this.counters = counters;
    }

    public synchronized State state() {
        return state;
    }

    /** Whether it has finished: {@link State#DONE}, {@link State#CANCELLED} or {@link State#FAILED}. */
    public boolean isDone() {
        return finished.getCount() == 0;
    }

    /**
     * How many leading tokens of the prompt were in the CPU pool as of the prefetch's last step:
     * those it found there, then, once it has finished, those it brought in too.
     */
    public int readyTokens() {
        return readyTokens;
    }

    /** The prompt's length: {@code readyTokens() == tokens()} means the whole prompt is in the pool. */
    public int tokens() {
        return promptTokens;
    }

    /**
     * Waits until it has finished or {@code timeout} has passed; returns whether it has finished.
     * A timeout past what nanoseconds in a long hold (about 292 years; C callers pass INT64_MAX
     * milliseconds for "forever") waits as long as that.
     */
    public boolean await(Duration timeout) throws InterruptedException {
        long nanos;
        try {
            nanos = timeout.toNanos();
        } catch (ArithmeticException beyondLong) {
            nanos = timeout.isNegative() ? 0 : Long.MAX_VALUE;
        }
        return finished.await(nanos, TimeUnit.NANOSECONDS);
    }

    /**
     * Stops the prefetch: a queued one never runs; a running one stops at its next step (reads
     * already sent finish first, and the chunks that verified are kept as cached chunks) and takes
     * no pin. Returns whether it stopped it, false when it had finished or was finishing.
     */
    public boolean cancel() {
        synchronized (this) {
            if (committed || isDone()) {
                return false;
            }
            cancelRequested = true;
            if (state != State.QUEUED) {
                return true;
            }
            committed = true;
        }
        finish(State.CANCELLED, 0); // never started: nothing to undo
        return true;
    }

    /** Cancels it if it has not finished, and lets the engine forget the handle. Idempotent. */
    @Override
    public void close() {
        cancel();
        synchronized (this) {
            if (closed) {
                return;
            }
            closed = true;
            if (isDone()) {
                counters.finishedOpen.decrement();
            }
        }
    }

    @Override
    public synchronized String toString() {
        return "Prefetch[" + state + ", " + readyTokens + "/" + promptTokens + " tokens in the pool]";
    }

    /** The worker takes it: false if it was cancelled while queued. */
    synchronized boolean start() {
        if (state != State.QUEUED || committed) {
            return false;
        }
        state = State.RUNNING;
        return true;
    }

    synchronized boolean cancelRequested() {
        return cancelRequested;
    }

    /**
     * The prefetch decides its outcome (called under the index lock, where it publishes and pins):
     * returns whether it was cancelled; a later {@link #cancel()} returns false.
     */
    synchronized boolean commit() {
        committed = true;
        return cancelRequested;
    }

    void progress(int tokens) {
        readyTokens = tokens;
    }

    /** Ends it: the state, the tokens in the pool, the counters; wakes {@link #await}. */
    void finish(State end, int tokens) {
        synchronized (this) {
            if (isDone()) {
                return;
            }
            readyTokens = tokens;
            state = end;
            counters.ended(end);
            if (!closed) {
                counters.finishedOpen.increment();
            }
            finished.countDown();
        }
    }
}
