/*
 * The index arithmetic of the KV gather/scatter kernels, shared by the CUDA kernels
 * (kv_transfer.cu) and a host build of the same loops (kv_host.c) that the Java tests compare
 * byte for byte with HostKvTransfer: the kernels cannot run without a GPU, their arithmetic can.
 *
 * Layouts (ROW = num_kv_heads * head_size * elem bytes; s = block_id * block_size + offset):
 *
 *   paged FLASH_ATTN    [2, num_blocks, block_size, row]   cache(p, s) = (p * num_slots + s) * ROW
 *   paged BLOCKS_FIRST  [num_blocks, 2, block_size, row]   cache(p, s) = ((s / bs * 2 + p) * bs + s % bs) * ROW
 *   paged MLA           [num_blocks, block_size, row]      cache(0, s) = s * ROW
 *   chunk page          [planes, layers, T, row]           page(p, l, t) = ((p * layers + l) * T + t) * ROW
 *
 * These are the formulas of PagedCaches and ChunkFormat on the Java side.
 *
 * One launch moves every chunk of a request: a table of kv_chunk (its page, and the run of the
 * request's slots[] it holds) passed by device pointer, one grid z per chunk. kv_chunk_row is
 * kv_row for one chunk of that table; the per-row arithmetic below is the same for both.
 */
#ifndef LMCACHE4J_KV_INDEX_H
#define LMCACHE4J_KV_INDEX_H

#include <stdint.h>

#ifdef __CUDACC__
#define KV_FN __host__ __device__ static inline
#else
#define KV_FN static inline
#endif

/* The values of org.lmcache4j.KvFormat's ordinals. */
enum { KV_FLASH_ATTN = 0, KV_BLOCKS_FIRST = 1, KV_MLA = 2 };

/* What a launch needs to know about the caches and the chunk; passed by value to the kernel. */
typedef struct {
    int32_t format;     /* KV_FLASH_ATTN, KV_BLOCKS_FIRST or KV_MLA */
    int32_t planes;     /* 2, or 1 for MLA */
    int32_t layers;
    int32_t block_size;
    int64_t num_slots;  /* num_blocks * block_size */
    int64_t row_bytes;
    int32_t tokens;     /* T: tokens of this chunk, a partial chunk included (a batched launch: grid x) */
    int32_t pad_;
} kv_shape;             /* 40 bytes, passed by value */

/* One chunk of a batched launch: its page, and which tokens of the request's slot array it holds. */
typedef struct {
    uint64_t page;   /* the chunk page, a device-visible address (page-locked host memory) */
    int32_t from;    /* the chunk's first token in the request's slots[] */
    int32_t tokens;  /* T: the chunk's tokens (a partial chunk included) */
} kv_chunk;          /* 16 bytes, 8-aligned; an array of them is passed by device pointer */

#ifdef __cplusplus
static_assert(sizeof(kv_shape) == 40 && sizeof(kv_chunk) == 16 && alignof(kv_chunk) == 8,
              "kv_shape and kv_chunk are an ABI shared with the Java caller");
#else
_Static_assert(sizeof(kv_shape) == 40 && sizeof(kv_chunk) == 16 && _Alignof(kv_chunk) == 8,
               "kv_shape and kv_chunk are an ABI shared with the Java caller");
#endif

KV_FN int64_t kv_cache_offset(const kv_shape *s, int plane, int64_t slot) {
    switch (s->format) {
    case KV_FLASH_ATTN:
        return ((int64_t) plane * s->num_slots + slot) * s->row_bytes;
    case KV_BLOCKS_FIRST: {
        int64_t bs = s->block_size;
        return ((slot / bs * 2 + plane) * bs + slot % bs) * s->row_bytes;
    }
    default: /* KV_MLA */
        return slot * s->row_bytes;
    }
}

KV_FN int64_t kv_page_offset(const kv_shape *s, int plane, int layer, int token) {
    return (((int64_t) plane * s->layers + layer) * s->tokens + token) * s->row_bytes;
}

/*
 * The row that work item (token, layer_plane) moves: its source and destination, or 0 for a -1
 * slot, whose row is neither read nor written. layer_plane = layer * planes + plane, the second
 * grid dimension of a launch, so one launch covers every layer of the chunk.
 */
KV_FN int kv_row(const kv_shape *s, const uint64_t *layer_caches, const int64_t *slots, char *page,
                 int token, int layer_plane, int to_page, char **dst, const char **src) {
    int64_t slot = slots[token];
    if (slot < 0) {
        return 0;
    }
    int layer = layer_plane / s->planes;
    int plane = layer_plane % s->planes;
    char *cache = (char *) (uintptr_t) layer_caches[layer] + kv_cache_offset(s, plane, slot);
    char *chunk = page + kv_page_offset(s, plane, layer, token);
    *dst = to_page ? chunk : cache;
    *src = to_page ? cache : chunk;
    return 1;
}

/*
 * kv_row for work item (token, layer_plane) of chunk c of a batched launch: the row of the chunk's
 * token `token`, with the chunk's own T (c->tokens), its slots (slots + c->from, slots being the
 * request's array) and its page; 0 for token >= c->tokens (the grid's x covers the largest chunk)
 * or a -1 slot.
 */
KV_FN int kv_chunk_row(const kv_shape *s, const uint64_t *layer_caches, const int64_t *slots, const kv_chunk *c,
                       int token, int layer_plane, int to_page, char **dst, const char **src) {
    if (token >= c->tokens) {
        return 0;
    }
    kv_shape cs = *s;
    cs.tokens = c->tokens;
    return kv_row(&cs, layer_caches, slots + c->from, (char *) (uintptr_t) c->page, token, layer_plane, to_page,
                  dst, src);
}

/* 16 bytes: CUDA moves uint4 in one load and one store; the host build moves the same unit. */
#ifdef __CUDACC__
typedef uint4 kv_vec16;
#else
typedef struct { uint64_t lo, hi; } kv_vec16;
#endif

/*
 * The share of one row that lane `lane` of `lanes` copies: 16-byte units strided across lanes
 * where both ends are 16-byte aligned (row sizes are multiples of 16 for every real model), else
 * single bytes, so any row size and alignment is correct.
 */
KV_FN void kv_copy_row(char *dst, const char *src, int64_t bytes, int lane, int lanes) {
    if ((((uintptr_t) dst | (uintptr_t) src | (uintptr_t) bytes) & 15) == 0) {
        kv_vec16 *d = (kv_vec16 *) dst;
        const kv_vec16 *v = (const kv_vec16 *) src;
        for (int64_t i = lane; i < bytes / 16; i += lanes) {
            d[i] = v[i];
        }
    } else {
        for (int64_t i = lane; i < bytes; i += lanes) {
            dst[i] = src[i];
        }
    }
}

#endif
