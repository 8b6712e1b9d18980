package org.lmcache4j.bench.model;

/**
 * A request's cached prefix on its way into the paged KV cache, as a {@link LoadingStrategy}
 * started it. The serving loop polls it at every step boundary and never waits on it, except at
 * the end of a run, when it lets every load settle before freeing the request's blocks.
 */
interface KvLoad {
    /** A load that had nothing to do: the request prefills its whole prompt. */
    KvLoad NONE = new KvLoad() {
        public boolean landed() { return true; }
        public int loadedTokens() { return 0; }
        public boolean belowPool() { return false; }
        public void abort() { }
        public boolean settled() { return true; }
        public void awaitSettled() { }
        public long landedAtNanos() { return -1; }
    };

    /** Whether the KV is in the request's blocks: the request may join the next batch. */
    boolean landed();

    /** Leading prompt tokens whose KV is in the blocks; read it once {@link #landed()}. */
    int loadedTokens();

    /** Whether the load reads (or read) from the disk or remote tier, not only from the CPU pool. */
    boolean belowPool();

    /** The request is gone: stop the load if it still runs. Never blocks. */
    void abort();

    /** Whether nothing of the load will touch the request's blocks any more, so they may be freed. */
    boolean settled();

    /** Waits until {@link #settled()}: only when a run ends. */
    void awaitSettled();

    /** When ({@link System#nanoTime()}) the KV was in the blocks; -1 while it is not, or when nothing loaded. */
    long landedAtNanos();
}
