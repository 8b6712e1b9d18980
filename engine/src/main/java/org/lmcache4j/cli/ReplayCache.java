package org.lmcache4j.cli;

import org.lmcache4j.CudaStream;

/**
 * The engine calls the replay's request loop makes, one request at a time: an engine in this
 * process ({@link EmbeddedCache}), or {@code lmcache4j server}'s through a client that copies in
 * this process's caches ({@link ServerCache}). Every call is for {@code KeyScope.NONE}.
 */
interface ReplayCache {
    /** What a retrieve loaded. */
    record Retrieved(int tokens, boolean lost) {
        static final Retrieved NONE = new Retrieved(0, false);
        static final Retrieved LOST = new Retrieved(0, true);
    }

    void lookupAndPin(String requestId, int[] prompt);

    /**
     * Loads the cached prefix of {@code prompt} into {@code slots}. {@code lost}: the server went
     * away during the call, after copies it had asked for may have run, so rows past the
     * {@code tokens} loaded may hold their token's KV rather than nothing (each row whole: a
     * client finishes its copies before it answers).
     */
    Retrieved retrieve(int[] prompt, long[] slots, CudaStream stream);

    void unpin(String requestId);

    /** Stores the prompt's chunks not cached yet; returns the tokens stored. */
    int store(int[] prompt, long[] slots, CudaStream stream);

    /** Waits until the stores queued so far are published (device caches publish after their copies land). */
    void awaitTransfers();

    /** Chunks that stores skipped since the cache opened (the replay attributes each store's share). */
    long storeSkippedChunks();

    /** The CPU pool's pages. */
    long capacityPages();

    int chunkSize();
}
