package org.lmcache4j.cli;

import org.lmcache4j.CudaStream;
import org.lmcache4j.transfer.PagedCaches;

/**
 * What the replay drives the engine with in place of vLLM: paged caches, a block allocator, and
 * the stream its "model" runs on. The replay's model reads and writes KV in host memory
 * ({@link #hostView}); where the caches live on a GPU, {@link #toDevice} and {@link #fromDevice}
 * move those rows on the serving stream, as a forward pass would write and read them there.
 */
interface ServingEngine extends AutoCloseable {
    /** The caches as the replay's model writes and checks them: the caches themselves, or their host mirror. */
    PagedCaches hostView();

    /** The caches as the engine registers them, one address per layer. */
    long[] addresses();

    /** -1 for host memory, else the CUDA device the caches are on. */
    int device();

    /** "cpu", or "cuda:N". */
    String deviceLabel();

    /** The stream the serving engine's work runs on. */
    CudaStream stream();

    /** Slots for a request of {@code tokens} tokens, in freshly allocated blocks. */
    long[] allocate(int tokens);

    /** Returns a finished request's blocks. */
    void free(long[] slots);

    /** Queues the host rows of tokens [from, to) for the device, on the serving stream. */
    void toDevice(long[] slots, int from, int to);

    /** Brings the device rows of tokens [from, to) back into the host view, after the stream's work. */
    void fromDevice(long[] slots, int from, int to);

    /** Waits until the serving stream's work (and what it waits for) has run. */
    void settle();

    @Override
    void close();
}
