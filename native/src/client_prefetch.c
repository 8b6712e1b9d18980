/*
 * Prefetches of a client engine: each runs on the server's engine (PREFETCH and its handle's
 * requests), with the embedded calls' arguments, states and errors. While the server is gone a
 * prefetch is a miss that has finished: state DONE with no token ready, so that the caller's
 * retrieve loads nothing and the serving engine computes the prompt; so is a prefetch whose
 * connection ended (the server cancelled it and released its pins with that connection).
 *
 * An await never holds the connection's one request slot for long: it asks the server for at
 * most AWAIT_SLICE_MS at a time and lets the engine's other calls (lookups, stores) run between.
 */
#include <stdio.h>
#include <time.h>

#include "client_api.h"

#define AWAIT_SLICE_MS 200

static int64_t now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int lmc_client_prefetch(lmc_client *c, const lmcache4j_scope *scope, const int32_t *tokens, size_t num_tokens,
                        const char *pin_request_id, uint64_t *out_prefetch) {
    lmc_out body = {0};
    int rc = lmc_prompt_body(&body, scope, tokens, num_tokens, pin_request_id);
    if (!rc && body.failed) rc = lmc_fail(LMCACHE4J_ERR_NO_MEMORY, "out of memory building a request");
    if (rc) {
        lmc_out_free(&body);
        return rc;
    }
    pthread_mutex_lock(&c->lock);
    lmc_open_op *op = lmc_ops_add(c, LMC_OP_PREFETCH);
    lmc_result r;
    rc = op ? lmc_conn_request(c, LMCACHE4J_WIRE_PREFETCH, &body, NULL, &r) : LMCACHE4J_ERR_NO_MEMORY;
    if (rc == LMC_SERVER_GONE) {
        rc = LMCACHE4J_OK; /* generation 0: a finished miss */
    } else if (!rc) {
        op->generation = c->generation;
        op->server_handle = (uint64_t)lmc_result_value(&r, 0);
        lmc_result_free(&r);
    } else if (op) {
        lmc_ops_remove(c, op);
    }
    if (!rc) *out_prefetch = op->handle;
    pthread_mutex_unlock(&c->lock);
    lmc_out_free(&body);
    return rc;
}

/*
 * One request about an open prefetch (a timeout unless < 0), its RESULT's first n values into
 * values; values keep what the caller put there (a finished miss's answer) when the prefetch's
 * connection has ended or ends under the request.
 */
static int ask(lmc_client *c, uint64_t prefetch, uint16_t type, int64_t timeout_ms, int64_t *values, uint32_t n) {
    pthread_mutex_lock(&c->lock);
    lmc_open_op *op;
    int rc = lmc_ops_find(c, prefetch, LMC_OP_PREFETCH, &op);
    if (!rc && lmc_op_live(c, op)) {
        lmc_result r;
        rc = lmc_op_request(c, type, op, LMC_NO_LAYER, timeout_ms, NULL, &r);
        if (!rc) {
            for (uint32_t i = 0; i < n; i++) values[i] = lmc_result_value(&r, i);
            lmc_result_free(&r);
        } else if (rc == LMC_SERVER_GONE) {
            rc = LMCACHE4J_OK;
        }
    }
    pthread_mutex_unlock(&c->lock);
    return rc;
}

int lmc_client_prefetch_state(lmc_client *c, uint64_t prefetch, int32_t *out_state, int64_t *out_ready) {
    int64_t v[2] = {LMCACHE4J_PREFETCH_DONE, 0};
    int rc = ask(c, prefetch, LMCACHE4J_WIRE_PREFETCH_STATE, -1, v, 2);
    if (rc) return rc;
    if (out_state) *out_state = (int32_t)v[0];
    if (out_ready) *out_ready = v[1];
    return LMCACHE4J_OK;
}

int lmc_client_prefetch_await(lmc_client *c, uint64_t prefetch, int64_t timeout_ms, int32_t *out_finished) {
    if (timeout_ms < 0) {
        return lmc_fail(LMCACHE4J_ERR_INVALID_ARGUMENT, "timeout_ms %lld must not be negative", (long long)timeout_ms);
    }
    int64_t start = now_ms();
    for (;;) {
        int64_t waited = now_ms() - start;
        int64_t left = timeout_ms - (waited < timeout_ms ? waited : timeout_ms);
        int64_t slice = left < AWAIT_SLICE_MS ? left : AWAIT_SLICE_MS;
        int64_t finished = 1; /* a prefetch of a connection gone is over */
        int rc = ask(c, prefetch, LMCACHE4J_WIRE_PREFETCH_AWAIT, slice, &finished, 1);
        if (rc) return rc;
        if (finished || slice >= left) {
            if (out_finished) *out_finished = finished != 0;
            return LMCACHE4J_OK;
        }
    }
}

int lmc_client_prefetch_cancel(lmc_client *c, uint64_t prefetch, int32_t *out_cancelled) {
    int64_t cancelled = 0; /* a prefetch of a connection gone has ended */
    int rc = ask(c, prefetch, LMCACHE4J_WIRE_PREFETCH_CANCEL, -1, &cancelled, 1);
    if (!rc && out_cancelled) *out_cancelled = cancelled != 0;
    return rc;
}

int lmc_client_prefetch_close(lmc_client *c, uint64_t prefetch) {
    pthread_mutex_lock(&c->lock);
    lmc_open_op *op;
    int rc = lmc_ops_find(c, prefetch, LMC_OP_PREFETCH, &op);
    if (!rc) {
        if (lmc_op_live(c, op)) {
            lmc_result r;
            rc = lmc_op_request(c, LMCACHE4J_WIRE_PREFETCH_CLOSE, op, LMC_NO_LAYER, -1, NULL, &r);
            if (!rc) lmc_result_free(&r);
            if (rc == LMC_SERVER_GONE) rc = LMCACHE4J_OK; /* the server closed it with the connection */
        }
        lmc_ops_remove(c, op); /* dead here whatever the server said: never closed twice */
    }
    pthread_mutex_unlock(&c->lock);
    return rc;
}
