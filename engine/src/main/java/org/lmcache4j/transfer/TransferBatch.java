package org.lmcache4j.transfer;

import java.lang.foreign.MemorySegment;
import java.util.function.Consumer;

/**
 * The copies of one request, begun by {@link KvTransfer#begin}: chunk gathers (paged caches →
 * pages) or scatters (pages → paged caches), then {@link #finish}. A batch dropped before its
 * finish (its caller failed) has moved nothing on a device and only what its calls copied on
 * the host.
 *
 * <p>On host caches every copy runs in the call. On device caches they are collected and queued
 * at finish, on the transfer's stream, after the caller's stream, and the caller's stream waits
 * for them; the pages and the chunks they hold must stay as they are until {@code landed} has run.
 */
public interface TransferBatch {
    /** Copies tokens {@code [from, to)} of the request's slots into {@code page}, in {@link ChunkFormat}. */
    void gather(int from, int to, MemorySegment page);

    /** Copies {@code page} back into the paged caches at the slots of tokens {@code [from, to)}. */
    void scatter(MemorySegment page, int from, int to);

    /**
     * Ends the batch. The caller's stream will not run past its copies, and {@code landed} runs
     * once they have landed: at once, on this thread, for host copies (an exception it throws
     * reaches the caller); on the transfer's completion thread for device copies. It is given
     * {@code null}, or the device error that stopped the copies (their pages then hold nothing
     * to serve). If it throws, nothing it queued still reads or writes a page.
     */
    void finish(Consumer<Throwable> landed);

    /**
     * Like {@link #finish}, except that the caller's stream does not wait for the copies yet: it
     * waits from {@link #orderCaller()} on. A layer-by-layer retrieve queues layer i+1 this way and
     * makes the stream wait for layer i only, so that layer i+1's copy runs beside layer i's
     * attention. Host copies have landed when this returns: the same as {@code finish}.
     */
    default void finishDeferred(Consumer<Throwable> landed) {
        finish(landed);
    }

    /**
     * After {@link #finishDeferred}: the caller's stream does not run past this batch's copies
     * (its work queued after this call waits for them). Nothing to do once they have landed, or
     * for host copies. Called on the caller's thread, in the order its stream's work is queued.
     */
    default void orderCaller() {
    }
}
