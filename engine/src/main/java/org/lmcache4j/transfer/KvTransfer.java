package org.lmcache4j.transfer;

import org.lmcache4j.CudaStream;

import java.lang.foreign.MemorySegment;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;

/**
 * Moves chunks between the paged caches and pool pages. Tokens {@code [from, to)} of a request
 * form a chunk; {@code slots[t]} is where token {@code t} lies in the paged caches
 * ({@code block_id * block_size + offset}), and a slot of {@code -1} means "not there": its row
 * is neither read nor written. Callers validate slots against the layout first.
 *
 * <p>A request's copies form one {@link TransferBatch}, ordered with the caller's
 * {@link CudaStream} on device caches.
 */
public interface KvTransfer extends AutoCloseable {
    /** Begins the copies of one request over {@code caches} at {@code slots}, ordered after {@code stream}. */
    TransferBatch begin(PagedCaches caches, long[] slots, CudaStream stream);

    /**
     * Like {@link #begin}, for layer {@code layer} alone: each gather or scatter of the batch moves
     * that layer's rows of its chunk, and the rest of the page (still laid out as a whole chunk,
     * {@link ChunkFormat}) is neither read nor written. A layer-by-layer store or retrieve is one
     * such batch per layer, each ordered with {@code stream} as a whole-chunk batch is.
     */
    TransferBatch beginLayer(PagedCaches caches, long[] slots, CudaStream stream, int layer);

    /** Throws {@link IllegalArgumentException}, naming it, if {@code stream} cannot order these copies. */
    void checkStream(CudaStream stream);

    /** Called once per registration with the caches it will copy (device tables are uploaded here). */
    default void prepare(PagedCaches caches) {
    }

    /** Returns once every batch begun so far has landed and its {@code landed} action has run. */
    default void awaitIdle() {
    }

    /** One word for logs and reports: {@code host}, {@code cuda-kernel}, {@code cuda-dma}. */
    String describe();

    /** Waits for the batches in flight, then frees what the transfer holds (streams, modules, buffers). */
    @Override
    default void close() {
    }

    /** Gathers one chunk and returns once it is in {@code page} (tests, benchmarks). */
    default void gather(PagedCaches caches, long[] slots, int from, int to, MemorySegment page) {
        TransferBatch batch = begin(caches, slots, CudaStream.DEFAULT);
        run(batch, () -> batch.gather(from, to, page));
    }

    /** Scatters one chunk and returns once it is in the caches (tests, benchmarks). */
    default void scatter(MemorySegment page, PagedCaches caches, long[] slots, int from, int to) {
        TransferBatch batch = begin(caches, slots, CudaStream.DEFAULT);
        run(batch, () -> batch.scatter(page, from, to));
    }

    private static void run(TransferBatch batch, Runnable copy) {
        copy.run();
        CompletableFuture<Void> landed = new CompletableFuture<>();
        batch.finish(error -> {
            if (error == null) {
                landed.complete(null);
            } else {
                landed.completeExceptionally(error);
            }
        });
        try {
            landed.join();
        } catch (CompletionException e) {
            throw e.getCause() instanceof RuntimeException r ? r : e;
        }
    }
}
