/*
 * Opening a client engine (the layout checked as KvLayout checks it, then HELLO) and registering
 * its caches, which stay in this process: the server never sees their addresses, only the token
 * ranges a COPY asks this client to move.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "../cuda/kv_index.h"
#include "client_api.h"

/* ------------------------------------------------------------------ open */

static int dtype_bytes(const char *name) {
    static const struct { const char *name; int bytes; } names[] = {
        {"float16", 2}, {"half", 2}, {"fp16", 2}, {"bfloat16", 2}, {"bf16", 2}, {"float32", 4}, {"float", 4},
        {"fp32", 4}, {"float8_e4m3fn", 1}, {"float8_e4m3", 1}, {"fp8_e4m3", 1}, {"fp8", 1}, {"e4m3", 1},
        {"float8_e5m2", 1}, {"fp8_e5m2", 1}, {"e5m2", 1},
    };
    while (*name == ' ' || *name == '\t') name++;
    if (!strncasecmp(name, "torch.", 6)) name += 6;
    size_t n = strlen(name);
    while (n && (name[n - 1] == ' ' || name[n - 1] == '\t')) n--;
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        if (strlen(names[i].name) == n && !strncasecmp(name, names[i].name, n)) return names[i].bytes;
    }
    return 0;
}

static int kv_format_of(const char *name) {
    static const char *names[] = {"flash_attn", "blocks_first", "mla"}; /* kv_index.h's KV_* order */
    while (*name == ' ' || *name == '\t') name++;
    size_t n = strlen(name);
    while (n && (name[n - 1] == ' ' || name[n - 1] == '\t')) n--;
    for (int i = 0; i < 3; i++) {
        if (strlen(names[i]) == n && !strncasecmp(name, names[i], n)) return i;
    }
    return -1;
}

/* The layout's checks of KvLayout, and its shape for the copies. */
static int check_layout(const lmcache4j_layout *l, lmc_caches_shape *shape) {
    const struct { const char *name; int32_t value; } positive[] = {
        {"num_layers", l->num_layers}, {"num_kv_heads", l->num_kv_heads}, {"head_size", l->head_size},
        {"block_size", l->block_size}, {"num_blocks", l->num_blocks},
    };
    for (int i = 0; i < 5; i++) {
        if (positive[i].value <= 0) {
            return lmc_fail(LMCACHE4J_ERR_INVALID_ARGUMENT, "%s must be positive, got %d", positive[i].name,
                            (int)positive[i].value);
        }
    }
    if (!l->dtype) return lmc_fail(LMCACHE4J_ERR_INVALID_ARGUMENT, "dtype must be given");
    if (!l->kv_format) return lmc_fail(LMCACHE4J_ERR_INVALID_ARGUMENT, "format must be given");
    int bytes = dtype_bytes(l->dtype);
    if (!bytes) {
        return lmc_fail(LMCACHE4J_ERR_INVALID_ARGUMENT, "unsupported KV dtype '%s' (supported: float16, bfloat16,"
                        " float32, float8_e4m3fn, float8_e5m2)", l->dtype);
    }
    int format = kv_format_of(l->kv_format);
    if (format < 0) {
        return lmc_fail(LMCACHE4J_ERR_INVALID_ARGUMENT, "unsupported KV cache format '%s' (supported: flash_attn,"
                        " blocks_first, mla)", l->kv_format);
    }
    if (format == KV_MLA && l->num_kv_heads != 1) {
        return lmc_fail(LMCACHE4J_ERR_INVALID_ARGUMENT, "num_kv_heads must be 1 for the mla format, got %d",
                        (int)l->num_kv_heads);
    }
    int64_t slots = (int64_t)l->num_blocks * l->block_size;
    if (slots > LMC_MAX_COUNT) {
        return lmc_fail(LMCACHE4J_ERR_INVALID_ARGUMENT, "num_blocks * block_size = %lld slots is too many",
                        (long long)slots);
    }
    *shape = (lmc_caches_shape){.format = format, .planes = format == KV_MLA ? 1 : 2,
                                .layers = l->num_layers, .block_size = l->block_size, .num_slots = slots,
                                .row_bytes = (int64_t)l->num_kv_heads * l->head_size * bytes};
    return LMCACHE4J_OK;
}

static void put_hello(lmc_out *o, const lmcache4j_layout *l, const lmcache4j_options *options) {
    lmc_out_u32(o, LMCACHE4J_WIRE_MAGIC);
    lmc_out_u32(o, LMCACHE4J_WIRE_VERSION);
    lmc_out_u32(o, (uint32_t)getpid());
    lmc_out_u32(o, 0);
    lmc_out_text(o, options && options->model ? options->model : "");
    lmc_out_u32(o, (uint32_t)(options && options->world_size ? options->world_size : 1));
    lmc_out_u32(o, (uint32_t)(options ? options->rank : 0));
    lmc_out_u32(o, (uint32_t)l->num_layers);
    lmc_out_u32(o, (uint32_t)l->num_kv_heads);
    lmc_out_u32(o, (uint32_t)l->head_size);
    lmc_out_text(o, l->dtype);
    lmc_out_u32(o, (uint32_t)l->block_size);
    lmc_out_u32(o, (uint32_t)l->num_blocks);
    lmc_out_text(o, l->kv_format);
    lmc_out_text(o, options ? options->settings : NULL);
}

int lmc_client_open(char *path, const lmcache4j_layout *layout, const lmcache4j_options *options,
                    lmcache4j_engine *out_engine) {
    lmc_caches_shape shape;
    int rc = check_layout(layout, &shape);
    int world_size = options && options->world_size ? options->world_size : 1;
    int rank = options ? options->rank : 0;
    if (!rc && (world_size < 1 || rank < 0 || rank >= world_size)) {
        rc = lmc_fail(LMCACHE4J_ERR_INVALID_ARGUMENT, "rank %d of world_size %d: world_size must be positive and "
                      "rank in 0..world_size-1", rank, world_size);
    }
    lmc_client *c = rc ? NULL : calloc(1, sizeof *c);
    if (!rc && !c) rc = lmc_fail(LMCACHE4J_ERR_NO_MEMORY, "out of memory opening a client engine");
    if (rc) {
        free(path);
        return rc;
    }
    pthread_mutex_init(&c->lock, NULL);
    snprintf(c->path, sizeof c->path, "%s", path);
    free(path);
    c->fd = -1;
    c->shape = shape;
    put_hello(&c->hello, layout, options);
    rc = c->hello.failed ? lmc_fail(LMCACHE4J_ERR_NO_MEMORY, "out of memory building HELLO") : lmc_conn_open(c);
    if (!rc) rc = lmc_handles_add(c, out_engine);
    if (rc) lmc_client_free(c);
    else lmc_clear_error();
    return rc;
}

void lmc_client_free(lmc_client *c) {
    pthread_mutex_lock(&c->lock);
    lmc_conn_close(c); /* the server drops what the connection had open */
    lmc_ops_free(c);
    pthread_mutex_unlock(&c->lock);
    pthread_mutex_destroy(&c->lock);
    lmc_out_free(&c->hello);
    lmc_out_free(&c->device_body);
    free(c->caches);
    free(c);
}

/* ------------------------------------------------------------------ caches */

/* Tells the server which caches this connection copies: device ones by their handles, or none (host). */
static int send_registration(lmc_client *c, const lmc_out *body) {
    lmc_result r;
    int rc = lmc_conn_request(c, LMCACHE4J_WIRE_REGISTER_DEVICE_CACHES, body, NULL, &r);
    if (rc == LMC_SERVER_GONE) return LMCACHE4J_OK; /* said again when the server is back (lmc_conn_open) */
    if (!rc) lmc_result_free(&r);
    return rc;
}

int lmc_client_register(lmc_client *c, const uint64_t *layer_addresses, int32_t num_layers, int32_t device) {
    if (device < LMCACHE4J_DEVICE_AUTO) {
        return lmc_fail(LMCACHE4J_ERR_INVALID_ARGUMENT, "device %d is not a device id (-1 for host memory)", (int)device);
    }
    if (num_layers < 0) return lmc_fail(LMCACHE4J_ERR_INVALID_ARGUMENT, "layer addresses: negative length %d", (int)num_layers);
    if (!layer_addresses && num_layers > 0) {
        return lmc_fail(LMCACHE4J_ERR_INVALID_ARGUMENT, "layer addresses is NULL but holds %d elements", (int)num_layers);
    }
    if (num_layers != c->shape.layers) {
        return lmc_fail(LMCACHE4J_ERR_INVALID_ARGUMENT, "expected %d layer caches, got %d", (int)c->shape.layers,
                        (int)num_layers);
    }
    uint64_t layer_bytes = (uint64_t)c->shape.planes * (uint64_t)c->shape.num_slots * (uint64_t)c->shape.row_bytes;
    for (int32_t i = 0; i < num_layers; i++) {
        if (!layer_addresses[i]) return lmc_fail(LMCACHE4J_ERR_INVALID_ARGUMENT, "layer %d cache address is null", (int)i);
        if (layer_addresses[i] > UINT64_MAX - layer_bytes) {
            return lmc_fail(LMCACHE4J_ERR_INVALID_ARGUMENT, "layer %d cache at 0x%llx would run past the end of the "
                            "address space (%llu bytes)", (int)i, (unsigned long long)layer_addresses[i],
                            (unsigned long long)layer_bytes);
        }
    }
    if (device == LMCACHE4J_DEVICE_AUTO) device = lmc_device_of(layer_addresses[0]);
    lmc_out body = {0};
    int rc = device == LMCACHE4J_DEVICE_HOST ? LMCACHE4J_OK
                                             : lmc_device_body(c, layer_addresses, num_layers, device, &body);
    uint64_t *copy = rc ? NULL : malloc((size_t)num_layers * sizeof *copy);
    if (!rc && !copy) rc = lmc_fail(LMCACHE4J_ERR_NO_MEMORY, "out of memory registering caches");
    if (rc) {
        lmc_out_free(&body);
        return rc;
    }
    memcpy(copy, layer_addresses, (size_t)num_layers * sizeof *copy);
    pthread_mutex_lock(&c->lock); /* waits for the request running on the old caches */
    if (device != LMCACHE4J_DEVICE_HOST || c->on_device) {
        lmc_out none = {0};
        lmc_out_u32(&none, (uint32_t)LMCACHE4J_DEVICE_HOST);
        lmc_out_u32(&none, 0);
        lmc_out_u32(&none, 0);
        rc = send_registration(c, device != LMCACHE4J_DEVICE_HOST ? &body : &none);
        lmc_out_free(&none);
    }
    if (rc) {
        pthread_mutex_unlock(&c->lock);
        free(copy);
        lmc_out_free(&body);
        return rc; /* the server refused them: the caches registered before stay */
    }
    free(c->caches);
    c->caches = copy;
    lmc_out_free(&c->device_body);
    c->device_body = body;
    c->on_device = device != LMCACHE4J_DEVICE_HOST;
    pthread_mutex_unlock(&c->lock);
    return LMCACHE4J_OK;
}
