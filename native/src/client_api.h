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

#endif
