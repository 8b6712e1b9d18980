/*
 * KV events of a client engine: the events of the node's cache (docs/server.md), which the server
 * keeps for this connection from the moment it records them (RECORD_KV_EVENTS) until it takes them
 * (TAKE_KV_EVENTS, whose RESULT values carry the records' bytes as they lie in the caller's buffer).
 *
 * A connection that ends loses its queue (the server forgets it, and a restarted server's CPU tier
 * starts empty): the first take on the next connection records again and reports one CLEARED
 * record, so that a router forgets what it knew of this cache rather than trust it; the events
 * from then on rebuild it. While the server is gone, recording is remembered and takes find nothing.
 */
#include <string.h>

#include "client_api.h"

#define CLEARED_RECORD_BYTES 40 /* LMCACHE4J_KV_EVENT_HEADER_BYTES */

/* RECORD_KV_EVENTS on the current connection (connecting if it may); remembers on which. */
static int send_record(lmc_client *c, int on) {
    lmc_out body = {0};
    lmc_out_u32(&body, (uint32_t)(on != 0));
    lmc_result r;
    int rc = body.failed ? lmc_fail(LMCACHE4J_ERR_NO_MEMORY, "out of memory building a request")
                         : lmc_conn_request(c, LMCACHE4J_WIRE_RECORD_KV_EVENTS, &body, NULL, &r);
    lmc_out_free(&body);
    if (rc == LMC_SERVER_GONE) return LMC_SERVER_GONE;
    if (rc) return rc;
    lmc_result_free(&r);
    c->kv_events_generation = on ? c->generation : 0;
    return LMCACHE4J_OK;
}

int lmc_client_record_kv_events(lmc_client *c, int32_t on) {
    pthread_mutex_lock(&c->lock);
    int rc = send_record(c, on);
    if (rc == LMC_SERVER_GONE) {
        c->kv_events_generation = 0; /* recorded on the next connection, by the first take */
        rc = LMCACHE4J_OK;
    }
    if (!rc) c->kv_events = on != 0;
    pthread_mutex_unlock(&c->lock);
    return rc;
}

/* TAKE_KV_EVENTS into buf. */
static int take(lmc_client *c, void *buf, size_t capacity, size_t *out_length) {
    lmc_out body = {0};
    lmc_out_u64(&body, (uint64_t)capacity);
    lmc_result r;
    int rc = body.failed ? lmc_fail(LMCACHE4J_ERR_NO_MEMORY, "out of memory building a request")
                         : lmc_conn_request(c, LMCACHE4J_WIRE_TAKE_KV_EVENTS, &body, NULL, &r);
    lmc_out_free(&body);
    if (rc) return rc;
    int64_t n = lmc_result_value(&r, 0);
    if (n < 0 || (uint64_t)n > capacity || r.num_values < 1 || (uint64_t)n > (uint64_t)(r.num_values - 1) * 8) {
        lmc_result_free(&r);
        return lmc_fail(LMCACHE4J_ERR_INTERNAL, "the server answered TAKE_KV_EVENTS with %lld bytes in %u values for "
                        "a buffer of %zu", (long long)n, r.num_values, capacity);
    }
    if (n) memcpy(buf, r.values + 8, (size_t)n);
    *out_length = (size_t)n;
    lmc_result_free(&r);
    return LMCACHE4J_OK;
}

int lmc_client_take_kv_events(lmc_client *c, void *buf, size_t capacity, size_t *out_length) {
    pthread_mutex_lock(&c->lock);
    *out_length = 0;
    int rc = LMCACHE4J_OK;
    if (c->kv_events && (c->fd < 0 || c->kv_events_generation != c->generation)) {
        int lost = c->kv_events_generation != 0; /* it recorded on a connection that has ended */
        if (lost && capacity < CLEARED_RECORD_BYTES) {
            rc = lmc_fail(LMCACHE4J_ERR_INVALID_ARGUMENT, "the next KV event takes %d bytes; the buffer holds %zu",
                          CLEARED_RECORD_BYTES, capacity);
        } else {
            rc = send_record(c, 1);
            if (!rc && lost) {
                memset(buf, 0, CLEARED_RECORD_BYTES);
                *(unsigned char *)buf = LMCACHE4J_KV_EVENT_CLEARED;
                *out_length = CLEARED_RECORD_BYTES;
            }
        }
    } else if (c->kv_events) {
        rc = take(c, buf, capacity, out_length);
    }
    if (rc == LMC_SERVER_GONE) rc = LMCACHE4J_OK; /* nothing to take while it is gone */
    pthread_mutex_unlock(&c->lock);
    return rc;
}
