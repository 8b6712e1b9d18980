// Gather (paged caches -> chunk pages) and scatter (chunk pages -> paged caches) of every chunk of a
// request, every layer and plane, in one launch: grid (T, layers * planes, chunks), T the largest
// chunk's tokens; one block per row, its threads striding 16-byte units across the row. Block
// (x, y, z) moves row x of chunk z, or nothing where x is past that chunk's own tokens. The index
// arithmetic is kv_index.h, which the Java tests check on the CPU against HostKvTransfer; this file
// adds only the launch geometry.
//
// Loaded from the fatbin with cuModuleLoadData; the names are extern "C" for cuModuleGetFunction.
// They name what the kernels take, a request's chunks: the earlier one-page kernels had the same
// parameter layout under other names, so a stale fatbin fails to load by name instead of writing
// through a chunk table it takes for a page.
//   s:            the shape; s.tokens = grid x (each chunk's own T comes from its kv_chunk)
//   layer_caches: device array of `layers` cache base addresses (the serving engine's data_ptr()s)
//   slots:        device array of the request's slots, -1 = skip; chunk z holds [from, from + tokens)
//   chunks:       device array of gridDim.z kv_chunk: each chunk's page (pinned host memory mapped
//                 into the device, cuMemHostRegister), first token and tokens
#include "kv_index.h"

extern "C" __global__ void kv_gather_chunks(kv_shape s, const uint64_t *layer_caches, const int64_t *slots,
                                                   const kv_chunk *chunks) {
    const kv_chunk c = chunks[blockIdx.z];
    char *dst;
    const char *src;
    if (kv_chunk_row(&s, layer_caches, slots, &c, blockIdx.x, blockIdx.y, 1, &dst, &src)) {
        kv_copy_row(dst, src, s.row_bytes, threadIdx.x, blockDim.x);
    }
}

extern "C" __global__ void kv_scatter_chunks(kv_shape s, const uint64_t *layer_caches, const int64_t *slots,
                                             const kv_chunk *chunks) {
    const kv_chunk c = chunks[blockIdx.z];
    char *dst;
    const char *src;
    if (kv_chunk_row(&s, layer_caches, slots, &c, blockIdx.x, blockIdx.y, 0, &dst, &src)) {
        kv_copy_row(dst, src, s.row_bytes, threadIdx.x, blockDim.x);
    }
}
