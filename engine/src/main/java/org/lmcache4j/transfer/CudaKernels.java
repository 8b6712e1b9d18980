package org.lmcache4j.transfer;

import jcuda.CudaException;
import jcuda.Pointer;
import jcuda.driver.CUfunction;
import jcuda.driver.CUmodule;
import jcuda.driver.CUstream;
import jcuda.driver.JCudaDriver;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * The gather and scatter kernels of native/cuda/kv_transfer.cu, loaded from the fatbin, and how
 * a launch packs its arguments: one launch per request, every chunk, layer and plane at once.
 *
 * <pre>
 *  kernelParams ─▶ [ &amp;shape ][ &amp;layer_caches ][ &amp;slots ][ &amp;chunks ]
 *  shape (kv_shape of kv_index.h, 40 bytes, little-endian, passed by value):
 *   0 format i32 │ 4 planes i32 │ 8 layers i32 │ 12 block_size i32 │ 16 num_slots i64 │ 24 row_bytes i64 │ 32 tokens i32 │ 36 pad
 *   (tokens: the largest chunk's; each chunk's own is in its kv_chunk)
 *  slots: the request's slot mapping;  chunks: kv_chunk[grid z] (see {@link LaunchTables})
 * </pre>
 *
 * The caller holds the context current.
 */
final class CudaKernels implements AutoCloseable {
    static final int THREADS = 128;          // kv_host.c mirrors this lane count
    static final int SHAPE_BYTES = 40;       // sizeof(kv_shape), kv_index.h

    private final CUmodule module = new CUmodule();
    private final CUfunction gather = new CUfunction();
    private final CUfunction scatter = new CUfunction();

    CudaKernels(byte[] fatbin) {
        try {
            JCudaDriver.cuModuleLoadData(module, fatbin);
        } catch (CudaException e) {
            throw new IllegalStateException(loadFailure(e.getMessage()), e);
        }
        try {
            JCudaDriver.cuModuleGetFunction(gather, module, "kv_gather_chunks");
            JCudaDriver.cuModuleGetFunction(scatter, module, "kv_scatter_chunks");
        } catch (CudaException e) {
            JCudaDriver.cuModuleUnload(module);
            throw new IllegalStateException("the CUDA kernels lack kv_gather_chunks or kv_scatter_chunks (" + e.getMessage()
                    + "): the fatbin was built from another version of native/cuda/kv_transfer.cu", e);
        }
    }

    private static String loadFailure(String error) {
        String why = switch (error) {
            case "CUDA_ERROR_NO_BINARY_FOR_GPU" -> "they hold no code for this GPU's architecture: rebuild them with"
                    + " make -C native cuda, adding it to CUDA_GENCODE";
            case "CUDA_ERROR_UNSUPPORTED_PTX_VERSION", "CUDA_ERROR_INVALID_PTX" -> "this driver is older than the"
                    + " compiler that built them (PTX from nvcc 13 needs an r580+ driver)";
            case "CUDA_ERROR_INVALID_IMAGE" -> "the file is not a CUDA fatbin";
            default -> "the driver refused them";
        };
        return "cannot load the CUDA kernels (" + error + "): " + why
                + "; extra_config.cuda_transfer: dma needs no kernels";
    }

    /**
     * Queues one launch that gathers ({@code toPage}) or scatters every chunk of a request: grid
     * (the largest chunk's tokens, layers × planes, chunks); block (x, y, z) moves the row of
     * token x of chunk z for layer-plane y.
     */
    void launch(boolean toPage, PagedCaches caches, java.util.List<LaunchTables.Chunk> chunks, long layerTable,
                long slots, long chunkTable, CUstream stream) {
        launch(toPage, caches, chunks, layerTable, slots, chunkTable, stream, caches.layout().numLayers());
    }

    private void launch(boolean toPage, PagedCaches caches, java.util.List<LaunchTables.Chunk> chunks, long layerTable,
                        long slots, long chunkTable, CUstream stream, int launchLayers) {
        ChunkFormat chunk = new ChunkFormat(caches.layout());
        int maxTokens = 0;
        for (LaunchTables.Chunk c : chunks) {
            maxTokens = Math.max(maxTokens, c.tokens());
        }
        Pointer params = Pointer.to(Pointer.to(shape(caches, chunk, maxTokens)), Pointer.to(CudaHandles.address(layerTable)),
                Pointer.to(CudaHandles.address(slots)), Pointer.to(CudaHandles.address(chunkTable)));
        JCudaDriver.cuLaunchKernel(toPage ? gather : scatter, maxTokens, launchLayers * chunk.planes(), chunks.size(),
                THREADS, 1, 1, 0, stream, params, null);
    }

    /**
     * Like {@link #launch} for one layer: grid y covers the planes of one layer; {@code layerTable}
     * points at that layer's entry, and each chunk's page at that layer's first row (see
     * {@code CudaKvTransfer#beginLayer}).
     */
    void launchLayer(boolean toPage, PagedCaches caches, java.util.List<LaunchTables.Chunk> chunks, long layerTable,
                     long slots, long chunkTable, CUstream stream) {
        launch(toPage, caches, chunks, layerTable, slots, chunkTable, stream, 1);
    }

    /** kv_shape, field by field. */
    private static byte[] shape(PagedCaches caches, ChunkFormat chunk, int tokens) {
        ByteBuffer b = ByteBuffer.allocate(SHAPE_BYTES).order(ByteOrder.LITTLE_ENDIAN);
        b.putInt(caches.layout().format().ordinal()).putInt(chunk.planes()).putInt(chunk.layers())
                .putInt(caches.layout().blockSize()).putLong(caches.layout().numSlots()).putLong(chunk.rowBytes())
                .putInt(tokens).putInt(0);
        return b.array();
    }

    @Override
    public void close() {
        JCudaDriver.cuModuleUnload(module);
    }
}
