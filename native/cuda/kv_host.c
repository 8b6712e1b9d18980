/*
 * The kernels of kv_transfer.cu run as host loops: the same kv_index.h calls, the grid walked in
 * order and every lane of a block run in turn. The Java test KvIndexHostTest loads this through
 * java.lang.foreign and compares its pages with HostKvTransfer's, so the kernels' arithmetic is
 * tested where there is no GPU.
 */
#include "kv_index.h"

/* The threads per block the CUDA transfer launches with; lanes only change the order of writes. */
#define KV_LANES 128

int kv_host_copy(const kv_shape *s, const uint64_t *layer_caches, const int64_t *slots, char *page, int to_page);

static void kv_host_grid(const kv_shape *s, const uint64_t *layer_caches, const int64_t *slots, char *page,
                         int to_page) {
    for (int y = 0; y < s->layers * s->planes; y++) {          /* blockIdx.y */
        for (int x = 0; x < s->tokens; x++) {                  /* blockIdx.x */
            char *dst;
            const char *src;
            if (!kv_row(s, layer_caches, slots, page, x, y, to_page, &dst, &src)) {
                continue;
            }
            for (int lane = 0; lane < KV_LANES; lane++) {      /* threadIdx.x */
                kv_copy_row(dst, src, s->row_bytes, lane, KV_LANES);
            }
        }
    }
}

/* Gathers (to_page = 1) or scatters (0) one chunk; 0 on success, -1 on a bad shape. */
int kv_host_copy(const kv_shape *s, const uint64_t *layer_caches, const int64_t *slots, char *page, int to_page) {
    if (s->planes < 1 || s->planes > 2 || s->layers < 1 || s->block_size < 1 || s->tokens < 0 || s->row_bytes < 1) {
        return -1;
    }
    kv_host_grid(s, layer_caches, slots, page, to_page);
    return 0;
}
