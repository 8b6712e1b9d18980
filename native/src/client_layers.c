/*
 * Layer-by-layer stores and retrieves of a client engine (use_layerwise): the server's engine
 * plans each (STORE_LAYERS, RETRIEVE_LAYERS) and runs its layers (COPY_LAYER), whose COPY this
 * client runs on its own caches with the ops' layer, so that a store's chunks are published only
 * once every layer has landed, exactly as embedded. The client keeps the operation's slot mapping:
 * the ops of each layer's COPY index it.
 *
 * The server gone: an operation opened meanwhile stores or loads 0 tokens and its layers copy
 * nothing. One whose connection ended was given up by the server (nothing published): its store
 * layers go on as no-ops, but a retrieve that promised tokens fails its next layer
 * (LMCACHE4J_ERR_STATE), since those rows will never be loaded and the serving engine must
 * compute them.
 */
#include <stdlib.h>
#include <string.h>

#include "client_api.h"

int lmc_client_open_layers(lmc_client *c, int retrieve, const lmcache4j_scope *scope, const int32_t *tokens,
                           const int64_t *slot_mapping, size_t num_tokens, size_t skip_leading, uint64_t cuda_stream,
                           uint64_t *out_op, int64_t *out_tokens) {
    pthread_mutex_lock(&c->lock);
    int rc = lmc_check_transfer(c, tokens, slot_mapping, num_tokens, skip_leading, cuda_stream);
    pthread_mutex_unlock(&c->lock);
    if (rc) return rc;
    int64_t *slots = malloc(num_tokens ? num_tokens * sizeof *slots : 1);
    lmc_out body = {0};
    lmc_transfer_body(&body, scope, tokens, slot_mapping, num_tokens, skip_leading);
    if (!slots || body.failed) {
        free(slots);
        lmc_out_free(&body);
        return lmc_fail(LMCACHE4J_ERR_NO_MEMORY, "out of memory building a request");
    }
    if (num_tokens) memcpy(slots, slot_mapping, num_tokens * sizeof *slots);
    pthread_mutex_lock(&c->lock);
    lmc_open_op *op = lmc_ops_add(c, retrieve ? LMC_OP_RETRIEVE_LAYERS : LMC_OP_STORE_LAYERS);
    lmc_result r;
    rc = op ? lmc_conn_request(c, retrieve ? LMCACHE4J_WIRE_RETRIEVE_LAYERS : LMCACHE4J_WIRE_STORE_LAYERS, &body,
                               NULL, &r) : LMCACHE4J_ERR_NO_MEMORY;
    if (rc == LMC_SERVER_GONE) {
        rc = LMCACHE4J_OK; /* generation 0: nothing to store or load */
    } else if (!rc) {
        op->generation = c->generation;
        op->server_handle = (uint64_t)lmc_result_value(&r, 0);
        op->tokens = lmc_result_value(&r, 1);
        lmc_result_free(&r);
    } else if (op) {
        lmc_ops_remove(c, op);
        op = NULL;
    }
    if (op) {
        op->slots = slots;
        op->num_tokens = (uint32_t)num_tokens;
        *out_op = op->handle;
        *out_tokens = op->tokens;
    } else {
        free(slots);
    }
    pthread_mutex_unlock(&c->lock);
    lmc_out_free(&body);
    return rc;
}

/* A layer of an op the server no longer has (or never had): the engine's order check, then nothing to copy. */
static int dead_layer(lmc_client *c, lmc_open_op *op, int32_t layer) {
    if (layer != op->copied) {
        return lmc_fail(LMCACHE4J_ERR_INVALID_ARGUMENT, "layer %d is out of order: this layer-by-layer operation "
                        "copies layers 0..%d in order, and layer %d is next", (int)layer, (int)c->shape.layers - 1,
                        (int)op->copied);
    }
    if (op->kind == LMC_OP_RETRIEVE_LAYERS && op->tokens > 0) {
        return lmc_fail(LMCACHE4J_ERR_STATE, "the LMCache4j server at unix://%s went away during this layer-by-layer "
                        "retrieve: layer %d is not loaded (the serving engine must compute its tokens)", c->path,
                        (int)layer);
    }
    op->copied++;
    return LMCACHE4J_OK;
}

int lmc_client_copy_layer(lmc_client *c, uint64_t handle, int32_t layer) {
    pthread_mutex_lock(&c->lock);
    lmc_open_op *op;
    int rc = lmc_ops_find(c, handle, LMC_OP_LAYERED, &op);
    if (!rc && layer < 0) { /* the wire's layer is a plain i32: never send one the engine would read as none */
        rc = lmc_fail(LMCACHE4J_ERR_INVALID_ARGUMENT, "layer %d is out of order: this layer-by-layer operation copies "
                      "layers 0..%d in order, and layer %d is next", (int)layer, (int)c->shape.layers - 1,
                      (int)op->copied);
    }
    if (!rc && lmc_op_live(c, op)) {
        lmc_copy_job job = {op->kind == LMC_OP_RETRIEVE_LAYERS ? LMCACHE4J_WIRE_SCATTER : LMCACHE4J_WIRE_GATHER,
                            op->slots, op->num_tokens};
        lmc_result r;
        rc = lmc_op_request(c, LMCACHE4J_WIRE_COPY_LAYER, op, layer, -1, &job, &r);
        if (!rc) {
            op->copied++;
            lmc_result_free(&r);
        } else if (rc == LMC_SERVER_GONE) {
            rc = dead_layer(c, op, layer);
        }
    } else if (!rc) {
        rc = dead_layer(c, op, layer);
    }
    pthread_mutex_unlock(&c->lock);
    return rc;
}

int lmc_client_await_layer(lmc_client *c, uint64_t handle, int32_t layer) {
    pthread_mutex_lock(&c->lock);
    lmc_open_op *op;
    int rc = lmc_ops_find(c, handle, LMC_OP_LAYERED, &op);
    if (!rc && (layer < 0 || layer >= op->copied)) {
        rc = lmc_fail(LMCACHE4J_ERR_INVALID_ARGUMENT, "layer %d has not been copied: this layer-by-layer operation "
                      "has copied layers 0..%d", (int)layer, (int)op->copied - 1);
    }
    if (!rc && lmc_op_live(c, op)) { /* host caches: the copies have landed; the server checks its own state */
        lmc_result r;
        rc = lmc_op_request(c, LMCACHE4J_WIRE_AWAIT_LAYER, op, layer, -1, NULL, &r);
        if (!rc) lmc_result_free(&r);
        if (rc == LMC_SERVER_GONE) rc = LMCACHE4J_OK;
    }
    pthread_mutex_unlock(&c->lock);
    return rc;
}

int lmc_client_close_layers(lmc_client *c, uint64_t handle, int64_t *out_layers_copied) {
    pthread_mutex_lock(&c->lock);
    lmc_open_op *op;
    int rc = lmc_ops_find(c, handle, LMC_OP_LAYERED, &op);
    int64_t copied = rc ? 0 : op->copied;
    if (!rc) {
        if (lmc_op_live(c, op)) {
            lmc_result r;
            rc = lmc_op_request(c, LMCACHE4J_WIRE_CLOSE_LAYERS, op, LMC_NO_LAYER, -1, NULL, &r);
            if (!rc) {
                copied = lmc_result_value(&r, 0);
                lmc_result_free(&r);
            }
            if (rc == LMC_SERVER_GONE) rc = LMCACHE4J_OK; /* the server gave it up with the connection */
        }
        lmc_ops_remove(c, op);
    }
    pthread_mutex_unlock(&c->lock);
    if (!rc && out_layers_copied) *out_layers_copied = copied;
    return rc;
}
