// Gather (paged caches -> chunk page) and scatter (chunk page -> paged caches) of one chunk, every
// layer and plane in one launch: grid (T, layers * planes), one block per row, its threads
// striding 16-byte units across the row. The index arithmetic is kv_index.h, which the Java tests
// check on the CPU against HostKvTransfer; this file adds only the launch geometry.
//
// Loaded from the fatbin with cuModuleLoadData; the names are extern "C" for cuModuleGetFunction.
//   layer_caches: device array of `layers` cache base addresses (the serving engine's data_ptr()s)
//   slots:        device array of T slots, -1 = skip
//   page:         the chunk page, pinned host memory mapped into the device (cuMemHostRegister)
#include "kv_index.h"

extern "C" __global__ void kv_gather(kv_shape s, const uint64_t *layer_caches, const int64_t *slots, char *page) {
    char *dst;
    const char *src;
    if (kv_row(&s, layer_caches, slots, page, blockIdx.x, blockIdx.y, 1, &dst, &src)) {
        kv_copy_row(dst, src, s.row_bytes, threadIdx.x, blockDim.x);
    }
}

extern "C" __global__ void kv_scatter(kv_shape s, const uint64_t *layer_caches, const int64_t *slots, char *page) {
    char *dst;
    const char *src;
    if (kv_row(&s, layer_caches, slots, page, blockIdx.x, blockIdx.y, 0, &dst, &src)) {
        kv_copy_row(dst, src, s.row_bytes, threadIdx.x, blockDim.x);
    }
}
