package org.lmcache4j;

/**
 * The serving engine's CUDA stream ({@code CUstream}, as a raw handle: torch's
 * {@code torch.cuda.current_stream().cuda_stream}), which orders the engine's device copies with
 * the serving engine's own work.
 *
 * <p>A store on device caches starts its gathers only after the work already queued on this
 * stream (the forward pass that wrote the KV), and a retrieve its scatters likewise (blocks being
 * reused may still be read by queued work); in both cases the stream cannot run past the copies
 * until they have landed. The host is not blocked: see docs/architecture.md, "Ordering with the
 * serving engine's stream".
 *
 * <p>Handle 0 is the legacy default stream of the caches' context, which also orders after every
 * blocking stream of that context; host caches accept only it (there is nothing to order with).
 *
 * @param handle the {@code CUstream} handle; 0 for the legacy default stream
 */
public record CudaStream(long handle) {
    /** The legacy default stream (handle 0): what a caller that never made a stream of its own uses. */
    public static final CudaStream DEFAULT = new CudaStream(0);

    public boolean isDefault() {
        return handle == 0;
    }

    @Override
    public String toString() {
        return handle == 0 ? "the default CUDA stream" : "CUDA stream 0x" + Long.toHexString(handle);
    }
}
