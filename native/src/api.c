/*
 * The exported functions: check what only C can check, then one call into NativeBridge, or, for an
 * engine in client mode (a connection to `lmcache4j server`, no JVM here), one call of client_*.c.
 */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "client_api.h"
#include "internal.h"

#define MAX_COUNT LMC_MAX_COUNT

/* A string as the bridge takes it: address and byte length; NULL and "" both mean none. */
#define JSTR(s) (jlong)(uintptr_t)((s) && *(s) ? (s) : NULL), text_length(s)
#define JPTR(p) (jlong)(uintptr_t)(p)
#define SCOPE(scope) JSTR((scope) ? (scope)->cache_salt : NULL), JSTR((scope) ? (scope)->adapter : NULL)

/* An engine in client mode: `call` runs with `client` held (it is not closed under the call). */
#define ON_CLIENT(engine, call)                                  \
    do {                                                         \
        if (lmc_client_handle(engine)) {                         \
            lmc_client *client;                                  \
            int client_rc_ = lmc_handles_get((engine), &client); \
            if (client_rc_) return client_rc_;                   \
            client_rc_ = (call);                                 \
            lmc_handles_put(engine);                             \
            if (!client_rc_) lmc_clear_error();                  \
            return client_rc_;                                   \
        }                                                        \
    } while (0)

/* A call the server protocol has no message for yet: a clear refusal, never the JVM. */
#define UNSUPPORTED_ON_CLIENT(engine, name) ON_CLIENT(engine, unsupported(client, name))

static int unsupported(const lmc_client *client, const char *name) {
    return lmc_fail(LMCACHE4J_ERR_UNSUPPORTED, "%s is not supported by a client of the LMCache4j server (unix://%s)"
                    " in this version: open the engine in this process to use it", name, client->path);
}

#define ENTER(env)                      \
    JNIEnv *env;                        \
    do {                                \
        int entered_ = lmc_env(&env);   \
        if (entered_) return entered_;  \
    } while (0)

static jint text_length(const char *s) {
    if (!s) return 0;
    size_t n = strlen(s);
    return n > MAX_COUNT ? -1 : (jint)n;
}

static int check_count(size_t n, const char *what) {
    if (n > MAX_COUNT) {
        return lmc_fail(LMCACHE4J_ERR_INVALID_ARGUMENT, "%s is %zu: at most %d", what, n, MAX_COUNT);
    }
    return LMCACHE4J_OK;
}

static int check_out(const void *out, const char *what) {
    return out ? LMCACHE4J_OK : lmc_fail(LMCACHE4J_ERR_INVALID_ARGUMENT, "%s is NULL", what);
}

LMCACHE4J_API int lmcache4j_open(const char *config_path, const lmcache4j_layout *layout,
                                 const lmcache4j_options *options, lmcache4j_engine *out_engine) {
    int rc = check_out(out_engine, "out_engine");
    if (!rc) rc = check_out(layout, "layout");
    if (rc) return rc;
    if (layout->struct_size < sizeof *layout) {
        return lmc_fail(LMCACHE4J_ERR_INVALID_ARGUMENT, "layout->struct_size is %u: set it to sizeof(lmcache4j_layout) = %zu",
                        layout->struct_size, sizeof *layout);
    }
    if (options && options->struct_size < sizeof *options) {
        return lmc_fail(LMCACHE4J_ERR_INVALID_ARGUMENT, "options->struct_size is %u: set it to sizeof(lmcache4j_options) = %zu",
                        options->struct_size, sizeof *options);
    }
    const char *settings = options ? options->settings : NULL;
    const char *model = options ? options->model : NULL;
    int32_t world_size = options && options->world_size ? options->world_size : 1;
    int32_t rank = options ? options->rank : 0;
    char *server_path;
    int selected = lmc_client_selected(config_path, settings, &server_path);
    if (selected < 0) return -selected;
    if (selected) return lmc_client_open(server_path, layout, options, out_engine);
    ENTER(env);
    jlong handle = (*env)->CallStaticLongMethod(
        env, lmc_java.cls, lmc_java.open, JSTR(config_path), JSTR(settings), (jint)layout->num_layers,
        (jint)layout->num_kv_heads, (jint)layout->head_size, JSTR(layout->dtype), (jint)layout->block_size,
        (jint)layout->num_blocks, JSTR(layout->kv_format), JSTR(model), (jint)world_size, (jint)rank);
    int64_t h;
    rc = lmc_finish(env, handle, &h);
    if (!rc) *out_engine = (lmcache4j_engine)h;
    return rc;
}

LMCACHE4J_API int lmcache4j_register_kv_caches(lmcache4j_engine engine, const uint64_t *layer_addresses,
                                               int32_t num_layers, int32_t device) {
    ON_CLIENT(engine, lmc_client_register(client, layer_addresses, num_layers, device));
    ENTER(env);
    jlong r = (*env)->CallStaticLongMethod(env, lmc_java.cls, lmc_java.register_kv_caches, (jlong)engine,
                                           JPTR(layer_addresses), (jint)num_layers, (jint)device);
    return lmc_finish(env, r, NULL);
}

/* A call on a prompt (tokens in a scope, maybe pinned for a request) that answers one number. */
static int prompt_call(jmethodID method, lmcache4j_engine engine, const lmcache4j_scope *scope, const int32_t *tokens,
                       size_t num_tokens, const char *pin_request_id, int64_t *out, const char *out_name) {
    int rc = check_out(out, out_name);
    if (!rc) rc = check_count(num_tokens, "num_tokens");
    if (rc) return rc;
    ENTER(env);
    jlong r = (*env)->CallStaticLongMethod(env, lmc_java.cls, method, (jlong)engine, SCOPE(scope), JPTR(tokens),
                                           (jint)num_tokens, JPTR(pin_request_id), text_length(pin_request_id));
    return lmc_finish(env, r, out);
}

LMCACHE4J_API int lmcache4j_lookup(lmcache4j_engine engine, const lmcache4j_scope *scope, const int32_t *tokens,
                                   size_t num_tokens, const char *pin_request_id, int64_t *out_hit_tokens) {
    int rc = check_out(out_hit_tokens, "out_hit_tokens");
    if (!rc) rc = check_count(num_tokens, "num_tokens");
    if (rc) return rc;
    ON_CLIENT(engine, lmc_client_lookup(client, scope, tokens, num_tokens, pin_request_id, out_hit_tokens, NULL));
    return prompt_call(lmc_java.lookup, engine, scope, tokens, num_tokens, pin_request_id, out_hit_tokens,
                       "out_hit_tokens");
}

static int transfer(int retrieve, lmcache4j_engine engine, const lmcache4j_scope *scope, const int32_t *tokens,
                    const int64_t *slot_mapping, size_t num_tokens, size_t skip_leading, uint64_t cuda_stream,
                    int64_t *out) {
    int rc = check_out(out, retrieve ? "out_loaded" : "out_stored");
    if (!rc) rc = check_count(num_tokens, "num_tokens");
    if (!rc) rc = check_count(skip_leading, "skip_leading");
    if (rc) return rc;
    ON_CLIENT(engine, lmc_client_transfer(client, retrieve, scope, tokens, slot_mapping, num_tokens, skip_leading,
                                          cuda_stream, out));
    ENTER(env);
    jlong r = (*env)->CallStaticLongMethod(env, lmc_java.cls, retrieve ? lmc_java.retrieve : lmc_java.store,
                                           (jlong)engine, SCOPE(scope), JPTR(tokens), JPTR(slot_mapping),
                                           (jint)num_tokens, (jint)skip_leading, (jlong)cuda_stream);
    return lmc_finish(env, r, out);
}

LMCACHE4J_API int lmcache4j_store(lmcache4j_engine engine, const lmcache4j_scope *scope, const int32_t *tokens,
                                  const int64_t *slot_mapping, size_t num_tokens, size_t skip_leading,
                                  int64_t *out_stored) {
    return transfer(0, engine, scope, tokens, slot_mapping, num_tokens, skip_leading, 0, out_stored);
}

LMCACHE4J_API int lmcache4j_store_on_stream(lmcache4j_engine engine, const lmcache4j_scope *scope, const int32_t *tokens,
                                            const int64_t *slot_mapping, size_t num_tokens, size_t skip_leading,
                                            uint64_t cuda_stream, int64_t *out_stored) {
    return transfer(0, engine, scope, tokens, slot_mapping, num_tokens, skip_leading, cuda_stream, out_stored);
}

LMCACHE4J_API int lmcache4j_retrieve(lmcache4j_engine engine, const lmcache4j_scope *scope, const int32_t *tokens,
                                     const int64_t *slot_mapping, size_t num_tokens, size_t skip_leading,
                                     int64_t *out_loaded) {
    return transfer(1, engine, scope, tokens, slot_mapping, num_tokens, skip_leading, 0, out_loaded);
}

LMCACHE4J_API int lmcache4j_retrieve_on_stream(lmcache4j_engine engine, const lmcache4j_scope *scope,
                                               const int32_t *tokens, const int64_t *slot_mapping, size_t num_tokens,
                                               size_t skip_leading, uint64_t cuda_stream, int64_t *out_loaded) {
    return transfer(1, engine, scope, tokens, slot_mapping, num_tokens, skip_leading, cuda_stream, out_loaded);
}

LMCACHE4J_API int lmcache4j_wait_transfers(lmcache4j_engine engine) {
    ON_CLIENT(engine, LMCACHE4J_OK); /* host copies end in their call */
    ENTER(env);
    return lmc_finish(env, (*env)->CallStaticLongMethod(env, lmc_java.cls, lmc_java.wait_transfers, (jlong)engine),
                      NULL);
}

LMCACHE4J_API int lmcache4j_unpin(lmcache4j_engine engine, const char *request_id, int64_t *out_unpinned) {
    ON_CLIENT(engine, lmc_client_unpin(client, request_id, out_unpinned));
    ENTER(env);
    jlong r = (*env)->CallStaticLongMethod(env, lmc_java.cls, lmc_java.unpin, (jlong)engine, JPTR(request_id),
                                           text_length(request_id));
    return lmc_finish(env, r, out_unpinned);
}

LMCACHE4J_API int lmcache4j_stats(lmcache4j_engine engine, lmcache4j_engine_stats *out) {
    int rc = check_out(out, "out");
    if (rc) return rc;
    size_t first = offsetof(lmcache4j_engine_stats, chunks);
    if (out->struct_size < first) {
        return lmc_fail(LMCACHE4J_ERR_INVALID_ARGUMENT, "out->struct_size is %u: set it to sizeof(lmcache4j_engine_stats) = %zu",
                        out->struct_size, sizeof *out);
    }
    ON_CLIENT(engine, lmc_client_stats(client, out, (out->struct_size - first) / sizeof(uint64_t)));
    ENTER(env);
    jlong r = (*env)->CallStaticLongMethod(env, lmc_java.cls, lmc_java.stats, (jlong)engine, JPTR(&out->chunks),
                                           (jint)((out->struct_size - first) / sizeof(uint64_t)));
    int64_t fields;
    rc = lmc_finish(env, r, &fields);
    if (!rc) out->fields = (uint32_t)fields;
    return rc;
}

LMCACHE4J_API int lmcache4j_config_json(lmcache4j_engine engine, char *buf, size_t capacity, size_t *out_length) {
    if (!buf && capacity) return lmc_fail(LMCACHE4J_ERR_INVALID_ARGUMENT, "buf is NULL but capacity is %zu", capacity);
    ON_CLIENT(engine, lmc_client_text(client, LMCACHE4J_WIRE_CONFIG_JSON, "lmcache4j_config_json", buf, capacity,
                                      out_length));
    ENTER(env);
    jlong r = (*env)->CallStaticLongMethod(env, lmc_java.cls, lmc_java.config_json, (jlong)engine, JPTR(buf),
                                           (jint)(capacity > MAX_COUNT ? MAX_COUNT : capacity));
    int64_t length;
    int rc = lmc_finish(env, r, &length);
    if (!rc && out_length) *out_length = (size_t)length;
    return rc;
}

static int metrics(lmcache4j_engine engine, jboolean text, char *buf, size_t capacity, size_t *out_length) {
    if (!buf && capacity) return lmc_fail(LMCACHE4J_ERR_INVALID_ARGUMENT, "buf is NULL but capacity is %zu", capacity);
    ON_CLIENT(engine, lmc_client_text(client, text ? LMCACHE4J_WIRE_METRICS_TEXT : LMCACHE4J_WIRE_METRICS_JSON,
                                      text ? "lmcache4j_metrics_text" : "lmcache4j_metrics_json", buf, capacity,
                                      out_length));
    ENTER(env);
    jlong r = (*env)->CallStaticLongMethod(env, lmc_java.cls, lmc_java.metrics, (jlong)engine, text, JPTR(buf),
                                           (jint)(capacity > MAX_COUNT ? MAX_COUNT : capacity));
    int64_t length;
    int rc = lmc_finish(env, r, &length);
    if (!rc && out_length) *out_length = (size_t)length;
    return rc;
}

LMCACHE4J_API int lmcache4j_metrics_json(lmcache4j_engine engine, char *buf, size_t capacity, size_t *out_length) {
    return metrics(engine, JNI_FALSE, buf, capacity, out_length);
}

LMCACHE4J_API int lmcache4j_metrics_text(lmcache4j_engine engine, char *buf, size_t capacity, size_t *out_length) {
    return metrics(engine, JNI_TRUE, buf, capacity, out_length);
}

LMCACHE4J_API int lmcache4j_count_prompt(lmcache4j_engine engine, int64_t prompt_tokens, int64_t vllm_hit_tokens) {
    if (prompt_tokens < 0 || prompt_tokens > MAX_COUNT || vllm_hit_tokens < 0 || vllm_hit_tokens > MAX_COUNT) {
        return lmc_fail(LMCACHE4J_ERR_INVALID_ARGUMENT, "prompt_tokens %lld and vllm_hit_tokens %lld must be in 0..2^31-1",
                        (long long)prompt_tokens, (long long)vllm_hit_tokens);
    }
    ON_CLIENT(engine, lmc_client_count_prompt(client, prompt_tokens, vllm_hit_tokens));
    ENTER(env);
    return lmc_finish(env, (*env)->CallStaticLongMethod(env, lmc_java.cls, lmc_java.count_prompt, (jlong)engine,
                                                        (jint)prompt_tokens, (jint)vllm_hit_tokens), NULL);
}

LMCACHE4J_API int lmcache4j_serve_lookups(lmcache4j_engine engine, const char *socket_path) {
    UNSUPPORTED_ON_CLIENT(engine, "lmcache4j_serve_lookups");
    ENTER(env);
    jlong r = (*env)->CallStaticLongMethod(env, lmc_java.cls, lmc_java.serve_lookups, (jlong)engine,
                                           JPTR(socket_path), text_length(socket_path));
    return lmc_finish(env, r, NULL);
}

LMCACHE4J_API int lmcache4j_record_kv_events(lmcache4j_engine engine, int32_t on) {
    ON_CLIENT(engine, lmc_client_record_kv_events(client, on));
    ENTER(env);
    return lmc_finish(env, (*env)->CallStaticLongMethod(env, lmc_java.cls, lmc_java.record_kv_events, (jlong)engine,
                                                        (jint)(on != 0)), NULL);
}

LMCACHE4J_API int lmcache4j_take_kv_events(lmcache4j_engine engine, void *buf, size_t capacity, size_t *out_length) {
    int rc = check_out(out_length, "out_length");
    if (rc) return rc;
    if (!buf && capacity) return lmc_fail(LMCACHE4J_ERR_INVALID_ARGUMENT, "buf is NULL but capacity is %zu", capacity);
    ON_CLIENT(engine, lmc_client_take_kv_events(client, buf, capacity, out_length));
    ENTER(env);
    jlong r = (*env)->CallStaticLongMethod(env, lmc_java.cls, lmc_java.take_kv_events, (jlong)engine, JPTR(buf),
                                           (jlong)(capacity > INT64_MAX ? INT64_MAX : capacity));
    int64_t length;
    rc = lmc_finish(env, r, &length);
    if (!rc) *out_length = (size_t)length;
    return rc;
}

LMCACHE4J_API int lmcache4j_clear(lmcache4j_engine engine) {
    ON_CLIENT(engine, lmc_client_clear(client));
    ENTER(env);
    return lmc_finish(env, (*env)->CallStaticLongMethod(env, lmc_java.cls, lmc_java.clear, (jlong)engine), NULL);
}

LMCACHE4J_API int lmcache4j_close(lmcache4j_engine engine) {
    if (lmc_client_handle(engine)) return lmc_handles_close(engine);
    ENTER(env);
    return lmc_finish(env, (*env)->CallStaticLongMethod(env, lmc_java.cls, lmc_java.close, (jlong)engine), NULL);
}

/* ------------------------------------------------------------------ version 4: tiers and prefetch */

LMCACHE4J_API int lmcache4j_lookup_tiers(lmcache4j_engine engine, const lmcache4j_scope *scope, const int32_t *tokens,
                                         size_t num_tokens, const char *pin_request_id, int64_t *out_hit_tokens,
                                         int64_t *out_pool_tokens) {
    int rc = check_out(out_hit_tokens, "out_hit_tokens");
    if (!rc) rc = check_count(num_tokens, "num_tokens");
    if (rc) return rc;
    int64_t pool_tokens;
    ON_CLIENT(engine, lmc_client_lookup(client, scope, tokens, num_tokens, pin_request_id, out_hit_tokens,
                                        out_pool_tokens ? out_pool_tokens : &pool_tokens));
    int64_t packed; /* hit tokens in the low 32 bits, the pool's in the high 32 */
    rc = prompt_call(lmc_java.lookup_tiers, engine, scope, tokens, num_tokens, pin_request_id, &packed, "out_hit_tokens");
    if (rc) return rc;
    *out_hit_tokens = packed & 0xffffffff;
    if (out_pool_tokens) *out_pool_tokens = packed >> 32;
    return rc;
}

LMCACHE4J_API int lmcache4j_prefetch(lmcache4j_engine engine, const lmcache4j_scope *scope, const int32_t *tokens,
                                     size_t num_tokens, const char *pin_request_id,
                                     lmcache4j_prefetch_handle *out_prefetch) {
    int rc = check_out(out_prefetch, "out_prefetch");
    if (rc) return rc;
    if (!rc) rc = check_count(num_tokens, "num_tokens");
    if (rc) return rc;
    ON_CLIENT(engine, lmc_client_prefetch(client, scope, tokens, num_tokens, pin_request_id, out_prefetch));
    int64_t handle;
    rc = prompt_call(lmc_java.prefetch, engine, scope, tokens, num_tokens, pin_request_id, &handle, "out_prefetch");
    if (!rc) *out_prefetch = (lmcache4j_prefetch_handle)handle;
    return rc;
}

LMCACHE4J_API int lmcache4j_prefetch_state(lmcache4j_engine engine, lmcache4j_prefetch_handle prefetch, int32_t *out_state,
                                           int64_t *out_ready_tokens) {
    ON_CLIENT(engine, lmc_client_prefetch_state(client, prefetch, out_state, out_ready_tokens));
    ENTER(env);
    jlong r = (*env)->CallStaticLongMethod(env, lmc_java.cls, lmc_java.prefetch_state, (jlong)engine, (jlong)prefetch);
    int64_t packed; /* ready tokens << 3 | state */
    int rc = lmc_finish(env, r, &packed);
    if (rc) return rc;
    if (out_state) *out_state = (int32_t)(packed & 7);
    if (out_ready_tokens) *out_ready_tokens = packed >> 3;
    return rc;
}

LMCACHE4J_API int lmcache4j_prefetch_await(lmcache4j_engine engine, lmcache4j_prefetch_handle prefetch, int64_t timeout_ms,
                                           int32_t *out_finished) {
    ON_CLIENT(engine, lmc_client_prefetch_await(client, prefetch, timeout_ms, out_finished));
    ENTER(env);
    jlong r = (*env)->CallStaticLongMethod(env, lmc_java.cls, lmc_java.prefetch_await, (jlong)engine, (jlong)prefetch,
                                           (jlong)timeout_ms);
    int64_t finished;
    int rc = lmc_finish(env, r, &finished);
    if (!rc && out_finished) *out_finished = (int32_t)finished;
    return rc;
}

LMCACHE4J_API int lmcache4j_prefetch_cancel(lmcache4j_engine engine, lmcache4j_prefetch_handle prefetch, int32_t *out_cancelled) {
    ON_CLIENT(engine, lmc_client_prefetch_cancel(client, prefetch, out_cancelled));
    ENTER(env);
    jlong r = (*env)->CallStaticLongMethod(env, lmc_java.cls, lmc_java.prefetch_cancel, (jlong)engine, (jlong)prefetch);
    int64_t cancelled;
    int rc = lmc_finish(env, r, &cancelled);
    if (!rc && out_cancelled) *out_cancelled = (int32_t)cancelled;
    return rc;
}

LMCACHE4J_API int lmcache4j_prefetch_close(lmcache4j_engine engine, lmcache4j_prefetch_handle prefetch) {
    ON_CLIENT(engine, lmc_client_prefetch_close(client, prefetch));
    ENTER(env);
    return lmc_finish(env, (*env)->CallStaticLongMethod(env, lmc_java.cls, lmc_java.prefetch_close, (jlong)engine,
                                                        (jlong)prefetch), NULL);
}

/* layerwise: lmcache4j_store_layers, lmcache4j_retrieve_layers, lmcache4j_copy_layer, lmcache4j_close_layers */

static int open_layers(int retrieve, lmcache4j_engine engine, const lmcache4j_scope *scope, const int32_t *tokens,
                       const int64_t *slot_mapping, size_t num_tokens, size_t skip_leading, uint64_t cuda_stream,
                       lmcache4j_layered *out_op, int64_t *out_tokens) {
    int rc = check_out(out_op, "out_op");
    if (!rc) rc = check_out(out_tokens, "out_tokens");
    if (!rc) rc = check_count(num_tokens, "num_tokens");
    if (!rc) rc = check_count(skip_leading, "skip_leading");
    if (rc) return rc;
    ON_CLIENT(engine, lmc_client_open_layers(client, retrieve, scope, tokens, slot_mapping, num_tokens, skip_leading,
                                             cuda_stream, out_op, out_tokens));
    ENTER(env);
    int64_t tokens_out = 0;
    jlong r = (*env)->CallStaticLongMethod(env, lmc_java.cls, retrieve ? lmc_java.retrieve_layers : lmc_java.store_layers,
                                           (jlong)engine, SCOPE(scope), JPTR(tokens), JPTR(slot_mapping),
                                           (jint)num_tokens, (jint)skip_leading, (jlong)cuda_stream, JPTR(&tokens_out));
    int64_t op;
    rc = lmc_finish(env, r, &op);
    if (!rc) {
        *out_op = (lmcache4j_layered)op;
        *out_tokens = tokens_out;
    }
    return rc;
}

LMCACHE4J_API int lmcache4j_store_layers(lmcache4j_engine engine, const lmcache4j_scope *scope, const int32_t *tokens,
                                         const int64_t *slot_mapping, size_t num_tokens, size_t skip_leading,
                                         uint64_t cuda_stream, lmcache4j_layered *out_op, int64_t *out_tokens) {
    return open_layers(0, engine, scope, tokens, slot_mapping, num_tokens, skip_leading, cuda_stream, out_op,
                       out_tokens);
}

LMCACHE4J_API int lmcache4j_retrieve_layers(lmcache4j_engine engine, const lmcache4j_scope *scope,
                                            const int32_t *tokens, const int64_t *slot_mapping, size_t num_tokens,
                                            size_t skip_leading, uint64_t cuda_stream, lmcache4j_layered *out_op,
                                            int64_t *out_tokens) {
    return open_layers(1, engine, scope, tokens, slot_mapping, num_tokens, skip_leading, cuda_stream, out_op,
                       out_tokens);
}

LMCACHE4J_API int lmcache4j_copy_layer(lmcache4j_engine engine, lmcache4j_layered op, int32_t layer) {
    ON_CLIENT(engine, lmc_client_copy_layer(client, op, layer));
    ENTER(env);
    return lmc_finish(env, (*env)->CallStaticLongMethod(env, lmc_java.cls, lmc_java.copy_layer, (jlong)engine,
                                                        (jlong)op, (jint)layer), NULL);
}

LMCACHE4J_API int lmcache4j_await_layer(lmcache4j_engine engine, lmcache4j_layered op, int32_t layer) {
    ON_CLIENT(engine, lmc_client_await_layer(client, op, layer));
    ENTER(env);
    return lmc_finish(env, (*env)->CallStaticLongMethod(env, lmc_java.cls, lmc_java.await_layer, (jlong)engine,
                                                        (jlong)op, (jint)layer), NULL);
}

LMCACHE4J_API int lmcache4j_close_layers(lmcache4j_engine engine, lmcache4j_layered op, int64_t *out_layers_copied) {
    ON_CLIENT(engine, lmc_client_close_layers(client, op, out_layers_copied));
    ENTER(env);
    return lmc_finish(env, (*env)->CallStaticLongMethod(env, lmc_java.cls, lmc_java.close_layers, (jlong)engine,
                                                        (jlong)op), out_layers_copied);
}
