/* The client-mode calls that api.c dispatches to (client handles: LMC_CLIENT_HANDLE_BIT set). */
#ifndef LMCACHE4J_CLIENT_API_H
#define LMCACHE4J_CLIENT_API_H

#include "client.h"

#define LMC_MAX_COUNT 0x7fffffff

static inline int lmc_client_handle(lmcache4j_engine engine) {
    return (engine & LMC_CLIENT_HANDLE_BIT) != 0;
}

/* client_handles.c: handles, never reused; a client in use is not freed until its callers leave. */
LMC_HIDDEN int lmc_handles_add(lmc_client *c, lmcache4j_engine *out_engine);
LMC_HIDDEN int lmc_handles_get(lmcache4j_engine engine, lmc_client **c); /* a status; then lmc_handles_put */
LMC_HIDDEN void lmc_handles_put(lmcache4j_engine engine);
LMC_HIDDEN int lmc_handles_close(lmcache4j_engine engine);

/* client_api.c: takes path (malloc'd) in every case. */
LMC_HIDDEN int lmc_client_open(char *path, const lmcache4j_layout *layout, const lmcache4j_options *options,
                               lmcache4j_engine *out_engine);
LMC_HIDDEN void lmc_client_free(lmc_client *c);
LMC_HIDDEN int lmc_client_register(lmc_client *c, const uint64_t *layer_addresses, int32_t num_layers, int32_t device);

/* client_calls.c: one per call of the ABI; arguments already checked by api.c where it checks them. */
LMC_HIDDEN int lmc_client_lookup(lmc_client *c, const lmcache4j_scope *scope, const int32_t *tokens, size_t num_tokens,
                                 const char *pin_request_id, int64_t *out_hit_tokens, int64_t *out_pool_tokens);
LMC_HIDDEN int lmc_client_transfer(lmc_client *c, int retrieve, const lmcache4j_scope *scope, const int32_t *tokens,
                                   const int64_t *slot_mapping, size_t num_tokens, size_t skip_leading,
                                   uint64_t cuda_stream, int64_t *out);
LMC_HIDDEN int lmc_client_unpin(lmc_client *c, const char *request_id, int64_t *out_unpinned);
LMC_HIDDEN int lmc_client_stats(lmc_client *c, lmcache4j_engine_stats *out, size_t fields);
/* CONFIG_JSON, METRICS_TEXT or METRICS_JSON into buf, as lmcache4j_config_json writes. */
LMC_HIDDEN int lmc_client_text(lmc_client *c, uint16_t type, const char *call, char *buf, size_t capacity,
                               size_t *out_length);
LMC_HIDDEN int lmc_client_count_prompt(lmc_client *c, int64_t prompt_tokens, int64_t vllm_hit_tokens);
LMC_HIDDEN int lmc_client_clear(lmc_client *c);

/* client_calls.c's checks and bodies, shared with the calls on handles. */
LMC_HIDDEN int lmc_check_transfer(const lmc_client *c, const int32_t *tokens, const int64_t *slots, size_t n,
                                  size_t skip, uint64_t cuda_stream);
/* A LOOKUP's (PREFETCH's) body, its arguments checked first; a STORE's (RETRIEVE's, *_LAYERS') body. */
LMC_HIDDEN int lmc_prompt_body(lmc_out *body, const lmcache4j_scope *scope, const int32_t *tokens, size_t num_tokens,
                               const char *pin_request_id);
LMC_HIDDEN void lmc_transfer_body(lmc_out *body, const lmcache4j_scope *scope, const int32_t *tokens,
                                  const int64_t *slot_mapping, size_t num_tokens, size_t skip_leading);

/* client_ops.c: the prefetches and layered operations a client engine has open, by handle. */
typedef enum lmc_op_kind { LMC_OP_PREFETCH = 1, LMC_OP_STORE_LAYERS = 2, LMC_OP_RETRIEVE_LAYERS = 4 } lmc_op_kind;
#define LMC_OP_LAYERED (LMC_OP_STORE_LAYERS | LMC_OP_RETRIEVE_LAYERS)

typedef struct lmc_open_op {
    uint64_t handle;          /* the caller's: 1, 2, 3… of its engine, never reused */
    lmc_op_kind kind;
    uint32_t generation;      /* the connection it was opened on; 0: opened while the server was gone */
    uint64_t server_handle;   /* the server's number for it on that connection */
    int64_t tokens;           /* layered: the tokens it stores or loads */
    int32_t copied;           /* layered: the layers copied so far */
    int64_t *slots;           /* layered: its slot mapping, which the COPY_LAYER ops index */
    uint32_t num_tokens;
} lmc_open_op;

/* All under the client's lock. */
LMC_HIDDEN lmc_open_op *lmc_ops_add(lmc_client *c, lmc_op_kind kind); /* NULL (message set): out of memory */
LMC_HIDDEN int lmc_ops_find(lmc_client *c, uint64_t handle, int kinds, lmc_open_op **op);
LMC_HIDDEN void lmc_ops_remove(lmc_client *c, lmc_open_op *op);
LMC_HIDDEN void lmc_ops_free(lmc_client *c);
/* Whether op lives on the current connection (else the server has dropped it: its connection ended). */
LMC_HIDDEN int lmc_op_live(const lmc_client *c, const lmc_open_op *op);
/* One request naming op's server handle (and a layer, unless LMC_NO_LAYER; a timeout, unless < 0). */
#define LMC_NO_LAYER INT32_MIN
LMC_HIDDEN int lmc_op_request(lmc_client *c, uint16_t type, const lmc_open_op *op, int32_t layer, int64_t timeout_ms,
                              const lmc_copy_job *job, lmc_result *r);

/* client_prefetch.c */
LMC_HIDDEN int lmc_client_prefetch(lmc_client *c, const lmcache4j_scope *scope, const int32_t *tokens,
                                   size_t num_tokens, const char *pin_request_id, uint64_t *out_prefetch);
LMC_HIDDEN int lmc_client_prefetch_state(lmc_client *c, uint64_t prefetch, int32_t *out_state, int64_t *out_ready);
LMC_HIDDEN int lmc_client_prefetch_await(lmc_client *c, uint64_t prefetch, int64_t timeout_ms, int32_t *out_finished);
LMC_HIDDEN int lmc_client_prefetch_cancel(lmc_client *c, uint64_t prefetch, int32_t *out_cancelled);
LMC_HIDDEN int lmc_client_prefetch_close(lmc_client *c, uint64_t prefetch);

/* client_events.c */
LMC_HIDDEN int lmc_client_record_kv_events(lmc_client *c, int32_t on);
LMC_HIDDEN int lmc_client_take_kv_events(lmc_client *c, void *buf, size_t capacity, size_t *out_length);

/* client_layers.c */
LMC_HIDDEN int lmc_client_open_layers(lmc_client *c, int retrieve, const lmcache4j_scope *scope, const int32_t *tokens,
                                      const int64_t *slot_mapping, size_t num_tokens, size_t skip_leading,
                                      uint64_t cuda_stream, uint64_t *out_op, int64_t *out_tokens);
LMC_HIDDEN int lmc_client_copy_layer(lmc_client *c, uint64_t op, int32_t layer);
LMC_HIDDEN int lmc_client_await_layer(lmc_client *c, uint64_t op, int32_t layer);
LMC_HIDDEN int lmc_client_close_layers(lmc_client *c, uint64_t op, int64_t *out_layers_copied);

#endif
