/*
 * The prefetches and layer-by-layer operations a client engine has open, by the caller's handle:
 * 1, 2, 3… of the engine, never reused, as the embedded engine's handles are never reused, so
 * that a handle closed since is told from one never issued (LMCACHE4J_ERR_CLOSED against
 * LMCACHE4J_ERR_INVALID_ARGUMENT, the embedded answers).
 *
 * Each remembers the connection it was opened on (its generation) and the server's number for it
 * there: when that connection ends, the server cancels and gives up everything it had open, so an
 * op of an earlier connection is answered here without asking (a prefetch is done with nothing
 * ready, a layered store stores nothing). Everything here runs under the client's lock.
 */
#include <stdlib.h>

#include "client_api.h"

lmc_open_op *lmc_ops_add(lmc_client *c, lmc_op_kind kind) {
    if (c->num_ops == c->ops_capacity) {
        uint32_t capacity = c->ops_capacity ? c->ops_capacity * 2 : 8;
        lmc_open_op **grown = realloc(c->ops, capacity * sizeof *grown);
        if (!grown) {
            lmc_fail(LMCACHE4J_ERR_NO_MEMORY, "out of memory for a handle");
            return NULL;
        }
        c->ops = grown;
        c->ops_capacity = capacity;
    }
    lmc_open_op *op = calloc(1, sizeof *op);
    if (!op) {
        lmc_fail(LMCACHE4J_ERR_NO_MEMORY, "out of memory for a handle");
        return NULL;
    }
    op->handle = ++c->ops_issued;
    op->kind = kind;
    c->ops[c->num_ops++] = op;
    return op;
}

int lmc_ops_find(lmc_client *c, uint64_t handle, int kinds, lmc_open_op **op) {
    for (uint32_t i = 0; i < c->num_ops; i++) {
        if (c->ops[i]->handle == handle && (c->ops[i]->kind & kinds)) {
            *op = c->ops[i];
            return LMCACHE4J_OK;
        }
    }
    int issued = handle > 0 && handle <= c->ops_issued;
    if (kinds == LMC_OP_PREFETCH) {
        if (issued) return lmc_fail(LMCACHE4J_ERR_CLOSED, "prefetch %llu is closed", (unsigned long long)handle);
        return lmc_fail(LMCACHE4J_ERR_INVALID_ARGUMENT, "%llu is not a prefetch handle", (unsigned long long)handle);
    }
    return lmc_fail(LMCACHE4J_ERR_INVALID_ARGUMENT, "%llu is not an open layer-by-layer operation of this engine%s",
                    (unsigned long long)handle, issued ? " (closed already, or not a layer-by-layer operation)" : "");
}

void lmc_ops_remove(lmc_client *c, lmc_open_op *op) {
    for (uint32_t i = 0; i < c->num_ops; i++) {
        if (c->ops[i] == op) {
            c->ops[i] = c->ops[--c->num_ops];
            break;
        }
    }
    free(op->slots);
    free(op);
}

void lmc_ops_free(lmc_client *c) {
    while (c->num_ops) lmc_ops_remove(c, c->ops[0]);
    free(c->ops);
    c->ops = NULL;
    c->ops_capacity = 0;
}

int lmc_op_live(const lmc_client *c, const lmc_open_op *op) {
    return c->fd >= 0 && op->generation != 0 && op->generation == c->generation;
}

int lmc_op_request(lmc_client *c, uint16_t type, const lmc_open_op *op, int32_t layer, int64_t timeout_ms,
                   const lmc_copy_job *job, lmc_result *r) {
    lmc_out body = {0};
    lmc_out_u64(&body, op->server_handle);
    if (layer != LMC_NO_LAYER) lmc_out_u32(&body, (uint32_t)layer);
    if (timeout_ms >= 0) lmc_out_u64(&body, (uint64_t)timeout_ms);
    int rc = body.failed ? lmc_fail(LMCACHE4J_ERR_NO_MEMORY, "out of memory building a request")
                         : lmc_conn_request(c, type, &body, job, r);
    lmc_out_free(&body);
    return rc;
}
