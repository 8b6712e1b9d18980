/*
 * A COPY's chunk copies, run by the client: each op moves tokens [from, to) of the request between
 * the caller's paged caches and one pool page in a mapped slab. Rows are found with the kernels'
 * own index arithmetic (cuda/kv_index.h: kv_cache_offset and kv_page_offset, the formulas of
 * PagedCaches and ChunkFormat) and moved with one memcpy per run of adjacent rows, as
 * HostKvTransfer moves them. Every op is checked before any byte moves, so that a server bug (a page past
 * its slab, a token outside the request, a slot outside the caches) copies nothing and is reported
 * in COPY_DONE instead of writing where it must not.
 */
#include <stdio.h>
#include <string.h>

#include "../cuda/kv_index.h"
#include "client.h"

typedef struct copy_op {
    uint16_t kind;
    int32_t layer, from, to;
    uint32_t slab;
    uint64_t offset;
} copy_op;

static void read_op(lmc_in *in, copy_op *op) {
    op->kind = lmc_in_u16(in);
    lmc_in_u16(in);
    op->layer = (int32_t)lmc_in_u32(in);
    op->from = (int32_t)lmc_in_u32(in);
    op->to = (int32_t)lmc_in_u32(in);
    op->slab = lmc_in_u32(in);
    lmc_in_u32(in);
    op->offset = lmc_in_u64(in);
}

static int bad(char *why, size_t capacity, uint32_t i, const char *what) {
    snprintf(why, capacity, "COPY op %u: %s", i, what);
    return LMCACHE4J_ERR_INTERNAL;
}

static int check_op(const lmc_client *c, const lmc_copy_job *job, const copy_op *op, uint32_t i, char *why,
                    size_t capacity) {
    const lmc_caches_shape *s = &c->shape;
    if (op->kind != job->kind) return bad(why, capacity, i, "a copy in the wrong direction for this request");
    if (op->layer < LMCACHE4J_WIRE_WHOLE_CHUNK || op->layer >= s->layers) return bad(why, capacity, i, "no such layer");
    if (op->from < 0 || op->to <= op->from || (uint32_t)op->to > job->num_tokens ||
        (uint32_t)(op->to - op->from) > c->chunk_size) {
        return bad(why, capacity, i, "a token range outside the request or longer than a chunk");
    }
    if (op->slab >= c->num_slabs || !c->slabs[op->slab].base) {
        return bad(why, capacity, i, "a slab that was never sent");
    }
    uint64_t page = (uint64_t)s->planes * s->layers * (uint64_t)(op->to - op->from) * (uint64_t)s->row_bytes;
    uint64_t slab_bytes = c->slabs[op->slab].bytes;
    if (op->offset > slab_bytes || slab_bytes - op->offset < page) return bad(why, capacity, i, "a page past its slab");
    for (int32_t t = op->from; t < op->to; t++) {
        if (job->slots[t] < -1 || job->slots[t] >= s->num_slots) {
            return bad(why, capacity, i, "a token whose slot lies outside the caches");
        }
    }
    return LMCACHE4J_OK;
}

/* The length of the run of tokens from t whose rows lie back to back in the caches (at most to `tokens`). */
static int run_length(const kv_shape *s, const int64_t *slots, int t, int tokens) {
    int across = s->format != KV_BLOCKS_FIRST; /* flash_attn and mla: a slot's row follows the previous one's */
    int n = 1;
    while (t + n < tokens && slots[t + n] == slots[t] + n && (across || (slots[t] + n) % s->block_size != 0)) n++;
    return n;
}

/* Moves one chunk's rows: a memcpy per run of adjacent slots, per layer and plane (as HostKvTransfer). */
static void run_op(const lmc_client *c, const lmc_copy_job *job, const copy_op *op) {
    kv_shape shape = {
        .format = c->shape.format, .planes = c->shape.planes, .layers = c->shape.layers,
        .block_size = c->shape.block_size, .num_slots = c->shape.num_slots, .row_bytes = c->shape.row_bytes,
        .tokens = op->to - op->from,
    };
    char *page = (char *)c->slabs[op->slab].base + op->offset;
    const int64_t *slots = job->slots + op->from;
    int to_page = op->kind == LMCACHE4J_WIRE_GATHER;
    int first = op->layer < 0 ? 0 : op->layer, end = op->layer < 0 ? shape.layers : op->layer + 1;
    for (int layer = first; layer < end; layer++) {
        for (int plane = 0; plane < shape.planes; plane++) {
            for (int t = 0, n; t < shape.tokens; t += n) {
                if (slots[t] < 0) { /* -1: neither read nor written */
                    n = 1;
                    continue;
                }
                n = run_length(&shape, slots, t, shape.tokens);
                char *cache = (char *)(uintptr_t)c->caches[layer] + kv_cache_offset(&shape, plane, slots[t]);
                char *row = page + kv_page_offset(&shape, plane, layer, t);
                memcpy(to_page ? row : cache, to_page ? cache : row, (size_t)n * (size_t)shape.row_bytes);
            }
        }
    }
}

int lmc_copy_run(const lmc_client *c, const lmc_copy_job *job, lmc_in *in, char *why, size_t capacity) {
    uint32_t count = lmc_in_u32(in);
    if (in->bad || (in->length - in->at) / LMCACHE4J_WIRE_COPY_OP_BYTES < count) {
        snprintf(why, capacity, "a malformed COPY (%u ops in %zu bytes)", count, in->length);
        return LMCACHE4J_ERR_INTERNAL;
    }
    if (!c->caches) {
        snprintf(why, capacity, "a COPY before this client registered its caches");
        return LMCACHE4J_ERR_STATE;
    }
    size_t ops_at = in->at;
    for (uint32_t i = 0; i < count; i++) {
        copy_op op;
        read_op(in, &op);
        int rc = check_op(c, job, &op, i, why, capacity);
        if (rc) return rc;
    }
    in->at = ops_at;
    for (uint32_t i = 0; i < count; i++) {
        copy_op op;
        read_op(in, &op);
        run_op(c, job, &op);
    }
    return LMCACHE4J_OK;
}
