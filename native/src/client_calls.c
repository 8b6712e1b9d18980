/*
 * The requests of a client engine. Each call checks its arguments as the embedded engine does (the
 * same statuses and words) before anything is sent, then makes one request under the connection's
 * lock. While the server is gone the serving loop's calls answer their "nothing" with status OK: a
 * lookup misses, a store stores 0 tokens, a retrieve loads 0, an unpin unpins 0, a prompt count is
 * dropped. The calls that report the server's own state (stats, configuration, metrics, clear) say
 * that it is not reachable.
 */
#include <stdio.h>
#include <string.h>

#include "client_api.h"

static int gone_error(const lmc_client *c, const char *call) {
    return lmc_fail(LMCACHE4J_ERR_STATE, "%s: the LMCache4j server at unix://%s is not reachable now", call, c->path);
}

/* One request under the connection's lock. */
static int request(lmc_client *c, uint16_t type, const lmc_out *body, const lmc_copy_job *job, lmc_result *r) {
    if (body && body->failed) return lmc_fail(LMCACHE4J_ERR_NO_MEMORY, "out of memory building a request");
    pthread_mutex_lock(&c->lock);
    int rc = lmc_conn_request(c, type, body, job, r);
    pthread_mutex_unlock(&c->lock);
    return rc;
}

static const char *none_if_empty(const char *s) {
    return s && *s ? s : NULL;
}

static void put_scope(lmc_out *o, const lmcache4j_scope *scope) {
    lmc_out_text(o, none_if_empty(scope ? scope->cache_salt : NULL));
    lmc_out_text(o, none_if_empty(scope ? scope->adapter : NULL));
}

static int check_array(const void *p, size_t n, const char *what) {
    if (!p && n) return lmc_fail(LMCACHE4J_ERR_INVALID_ARGUMENT, "%s is NULL but holds %zu elements", what, n);
    return LMCACHE4J_OK;
}

int lmc_prompt_body(lmc_out *body, const lmcache4j_scope *scope, const int32_t *tokens, size_t num_tokens,
                    const char *pin_request_id) {
    int rc = check_array(tokens, num_tokens, "tokens");
    if (rc) return rc;
    if (pin_request_id && !*pin_request_id) return lmc_fail(LMCACHE4J_ERR_INVALID_ARGUMENT, "request id must not be empty");
    put_scope(body, scope);
    lmc_out_text(body, pin_request_id);
    lmc_out_array(body, tokens, num_tokens, sizeof *tokens);
    return LMCACHE4J_OK;
}

int lmc_client_lookup(lmc_client *c, const lmcache4j_scope *scope, const int32_t *tokens, size_t num_tokens,
                      const char *pin_request_id, int64_t *out_hit_tokens, int64_t *out_pool_tokens) {
    lmc_out body = {0};
    int rc = lmc_prompt_body(&body, scope, tokens, num_tokens, pin_request_id);
    if (rc) return rc;
    lmc_result r;
    uint16_t type = out_pool_tokens ? LMCACHE4J_WIRE_LOOKUP_TIERS : LMCACHE4J_WIRE_LOOKUP;
    rc = request(c, type, &body, NULL, &r);
    lmc_out_free(&body);
    if (rc == LMC_SERVER_GONE) {
        *out_hit_tokens = 0;
        if (out_pool_tokens) *out_pool_tokens = 0;
        lmc_clear_error();
        return LMCACHE4J_OK;
    }
    if (rc) return rc;
    *out_hit_tokens = lmc_result_value(&r, 0);
    if (out_pool_tokens) *out_pool_tokens = lmc_result_value(&r, 1);
    lmc_result_free(&r);
    lmc_clear_error();
    return LMCACHE4J_OK;
}

/* RequestCheck.transfer's checks, and the host transfer's stream check. */
int lmc_check_transfer(const lmc_client *c, const int32_t *tokens, const int64_t *slots, size_t n, size_t skip,
                          uint64_t cuda_stream) {
    int rc = check_array(tokens, n, "tokens");
    if (!rc) rc = check_array(slots, n, "slot_mapping");
    if (rc) return rc;
    if (!c->caches) return lmc_fail(LMCACHE4J_ERR_STATE, "no KV caches registered: call registerKvCaches first");
    if (skip > n) return lmc_fail(LMCACHE4J_ERR_INVALID_ARGUMENT, "skip_leading %zu is outside 0..%zu tokens", skip, n);
    if (skip % c->chunk_size) {
        return lmc_fail(LMCACHE4J_ERR_INVALID_ARGUMENT, "skip_leading %zu is not a multiple of chunk_size %u", skip,
                        c->chunk_size);
    }
    for (size_t t = skip; t < n; t++) {
        if (slots[t] < -1 || slots[t] >= c->shape.num_slots) {
            return lmc_fail(LMCACHE4J_ERR_INVALID_ARGUMENT, "slot_mapping[%zu] = %lld is outside the registered caches"
                            " (-1 or 0..%lld)", t, (long long)slots[t], (long long)c->shape.num_slots - 1);
        }
    }
    if (cuda_stream && !c->on_device) {
        return lmc_fail(LMCACHE4J_ERR_INVALID_ARGUMENT, "CUstream 0x%llx was given, but the KV caches are host memory:"
                        " there is no device work to order with (pass the default stream, 0)",
                        (unsigned long long)cuda_stream);
    }
    return LMCACHE4J_OK;
}

void lmc_transfer_body(lmc_out *body, const lmcache4j_scope *scope, const int32_t *tokens, const int64_t *slot_mapping,
                       size_t num_tokens, size_t skip_leading) {
    put_scope(body, scope);
    lmc_out_u64(body, skip_leading);
    lmc_out_array(body, tokens, num_tokens, sizeof *tokens);
    lmc_out_array(body, slot_mapping, num_tokens, sizeof *slot_mapping);
}

int lmc_client_transfer(lmc_client *c, int retrieve, const lmcache4j_scope *scope, const int32_t *tokens,
                        const int64_t *slot_mapping, size_t num_tokens, size_t skip_leading, uint64_t cuda_stream,
                        int64_t *out) {
    pthread_mutex_lock(&c->lock); /* the caches and chunk size are read under the lock the copies run under */
    int rc = lmc_check_transfer(c, tokens, slot_mapping, num_tokens, skip_leading, cuda_stream);
    int on_device = c->on_device;
    pthread_mutex_unlock(&c->lock);
    /* Device caches: the server copies them once this returns (the caller's stream has written or read them). */
    if (!rc && on_device) rc = lmc_device_wait(cuda_stream);
    if (rc) return rc;
    lmc_out body = {0};
    lmc_transfer_body(&body, scope, tokens, slot_mapping, num_tokens, skip_leading);
    lmc_copy_job job = {retrieve ? LMCACHE4J_WIRE_SCATTER : LMCACHE4J_WIRE_GATHER, slot_mapping, (uint32_t)num_tokens};
    lmc_result r;
    rc = request(c, retrieve ? LMCACHE4J_WIRE_RETRIEVE : LMCACHE4J_WIRE_STORE, &body, &job, &r);
    lmc_out_free(&body);
    if (rc == LMC_SERVER_GONE) {
        *out = 0; /* a store skipped, a retrieve that loaded nothing: the serving engine computes the tokens */
        lmc_clear_error();
        return LMCACHE4J_OK;
    }
    if (rc) return rc;
    *out = lmc_result_value(&r, 0);
    lmc_result_free(&r);
    lmc_clear_error();
    return LMCACHE4J_OK;
}

int lmc_client_unpin(lmc_client *c, const char *request_id, int64_t *out_unpinned) {
    if (!request_id || !*request_id) return lmc_fail(LMCACHE4J_ERR_INVALID_ARGUMENT, "request id must not be empty");
    lmc_out body = {0};
    lmc_out_text(&body, request_id);
    lmc_result r;
    int rc = request(c, LMCACHE4J_WIRE_UNPIN, &body, NULL, &r);
    lmc_out_free(&body);
    if (rc == LMC_SERVER_GONE) { /* the server dropped this connection's pins with it */
        if (out_unpinned) *out_unpinned = 0;
        lmc_clear_error();
        return LMCACHE4J_OK;
    }
    if (rc) return rc;
    if (out_unpinned) *out_unpinned = lmc_result_value(&r, 0);
    lmc_result_free(&r);
    lmc_clear_error();
    return LMCACHE4J_OK;
}

int lmc_client_stats(lmc_client *c, lmcache4j_engine_stats *out, size_t fields) {
    lmc_result r;
    int rc = request(c, LMCACHE4J_WIRE_STATS, NULL, NULL, &r);
    if (rc == LMC_SERVER_GONE) return gone_error(c, "lmcache4j_stats");
    if (rc) return rc;
    uint64_t *counters = &out->chunks;
    size_t n = r.num_values < fields ? r.num_values : fields;
    for (size_t i = 0; i < n; i++) counters[i] = (uint64_t)lmc_result_value(&r, (uint32_t)i);
    out->fields = (uint32_t)n;
    lmc_result_free(&r);
    lmc_clear_error();
    return LMCACHE4J_OK;
}

int lmc_client_text(lmc_client *c, uint16_t type, const char *call, char *buf, size_t capacity, size_t *out_length) {
    lmc_result r;
    int rc = request(c, type, NULL, NULL, &r);
    if (rc == LMC_SERVER_GONE) return gone_error(c, call);
    if (rc) return rc;
    if (capacity) { /* NUL-terminated, cut to fit, as the embedded engine writes it */
        size_t n = r.text_length < capacity - 1 ? r.text_length : capacity - 1;
        if (n) memcpy(buf, r.text, n);
        buf[n] = '\0';
    }
    if (out_length) *out_length = r.text_length;
    lmc_result_free(&r);
    lmc_clear_error();
    return LMCACHE4J_OK;
}

/* A request with no arguments' worth of answer: COUNT_PROMPT (dropped while gone) or CLEAR. */
static int plain(lmc_client *c, uint16_t type, const lmc_out *body, const char *call_when_gone) {
    lmc_result r;
    int rc = request(c, type, body, NULL, &r);
    if (rc == LMC_SERVER_GONE) {
        if (call_when_gone) return gone_error(c, call_when_gone);
        lmc_clear_error();
        return LMCACHE4J_OK;
    }
    if (rc) return rc;
    lmc_result_free(&r);
    lmc_clear_error();
    return LMCACHE4J_OK;
}

int lmc_client_count_prompt(lmc_client *c, int64_t prompt_tokens, int64_t vllm_hit_tokens) {
    lmc_out body = {0};
    lmc_out_u64(&body, (uint64_t)prompt_tokens);
    lmc_out_u64(&body, (uint64_t)vllm_hit_tokens);
    int rc = plain(c, LMCACHE4J_WIRE_COUNT_PROMPT, &body, NULL);
    lmc_out_free(&body);
    return rc;
}

int lmc_client_clear(lmc_client *c) {
    return plain(c, LMCACHE4J_WIRE_CLEAR, NULL, "lmcache4j_clear");
}
