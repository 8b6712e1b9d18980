/*
 * The C ABI on host-memory paged caches: store -> retrieve byte-exact in both paged formats,
 * prefix semantics, skip-leading, pins, stats, threads, a forked child, and every error path.
 * The JVM-start failures run in child processes (a process gets one JVM):
 *   test_abi                the whole suite
 *   test_abi open-fails     one lmcache4j_open, expected to fail with LMCACHE4J_ERR_JVM (for the suite)
 */
#include <pthread.h>
#include <spawn.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"

extern char **environ;

#define LAYERS 4
#define HEADS 2
#define HEAD_SIZE 16
#define BLOCK 16
#define BLOCKS 160
#define SLOTS (BLOCKS * BLOCK)
#define ROW (HEADS * HEAD_SIZE * 2) /* bfloat16 */
#define LAYER_BYTES ((size_t)2 * SLOTS * ROW)
#define SETTINGS "{\"chunk_size\": 256, \"max_local_cpu_size\": 0.05}"

typedef struct caches {
    const char *format;
    unsigned char *layer[LAYERS];
    uint64_t address[LAYERS];
} caches;

static void caches_init(caches *c, const char *format, unsigned seed) {
    c->format = format;
    for (int l = 0; l < LAYERS; l++) {
        c->layer[l] = aligned_alloc(64, LAYER_BYTES);
        for (size_t i = 0; i < LAYER_BYTES; i++) c->layer[l][i] = (unsigned char)(rand_r(&seed) >> 7);
        c->address[l] = (uint64_t)(uintptr_t)c->layer[l];
    }
}

static void caches_free(caches *c) {
    for (int l = 0; l < LAYERS; l++) free(c->layer[l]);
}

/* Byte offset of slot s's row in plane p, as in docs/architecture.md. */
static size_t offset(const caches *c, int p, int64_t s) {
    if (strcmp(c->format, "flash_attn") == 0) return ((size_t)p * SLOTS + (size_t)s) * ROW;
    return ((size_t)(s / BLOCK * 2 + p) * BLOCK + (size_t)(s % BLOCK)) * ROW;
}

/* Copies (or, with out NULL, zeroes) the rows of tokens [from, to) at their slots. */
static void rows(caches *c, const int64_t *slots, int from, int to, unsigned char *out) {
    size_t pos = 0;
    for (int l = 0; l < LAYERS; l++)
        for (int p = 0; p < 2; p++)
            for (int t = from; t < to; t++, pos += ROW) {
                unsigned char *row = c->layer[l] + offset(c, p, slots[t]);
                if (out) memcpy(out + pos, row, ROW);
                else memset(row, 0, ROW);
            }
}

static size_t rows_bytes(int n) {
    return (size_t)LAYERS * 2 * (size_t)n * ROW;
}

static lmcache4j_layout layout_of(const char *format) {
    lmcache4j_layout layout = {sizeof layout, LAYERS, HEADS, HEAD_SIZE, "bfloat16", BLOCK, BLOCKS, format};
    return layout;
}

static lmcache4j_engine open_engine(const char *format, caches *c) {
    lmcache4j_layout layout = layout_of(format);
    lmcache4j_options options = {sizeof options, SETTINGS, "test-model", 1, 0};
    lmcache4j_engine e = 0;
    EXPECT_OK(lmcache4j_open(NULL, &layout, &options, &e));
    EXPECT_OK(lmcache4j_register_kv_caches(e, c->address, LAYERS, -1));
    return e;
}

static void fill_tokens(int32_t *tokens, int n, unsigned seed) {
    for (int i = 0; i < n; i++) tokens[i] = (int32_t)(rand_r(&seed) % 32000);
}

/* Slots first..first+n-1 of a shuffled block order, so runs cross blocks in odd ways. */
static void fill_slots(int64_t *slots, int n, int first_block) {
    for (int i = 0; i < n; i++) {
        int block = first_block + (i / BLOCK) * 3 % (BLOCKS - first_block);
        slots[i] = (int64_t)block * BLOCK + i % BLOCK;
    }
}

static void store_retrieve_byte_exact(const char *format) {
    caches c;
    caches_init(&c, format, 7);
    lmcache4j_engine e = open_engine(format, &c);
    enum { N = 2000 };
    static int32_t tokens[N + 100];
    static int64_t slots[N + 100];
    fill_tokens(tokens, N + 100, 1);
    for (int i = 0; i < N + 100; i++) slots[i] = i; /* distinct slots: 2100 of 2560 */
    unsigned char *before = malloc(rows_bytes(N)), *after = malloc(rows_bytes(N));
    rows(&c, slots, 0, N, before);

    int64_t stored = -1, hit = -1, loaded = -1;
    EXPECT_OK(lmcache4j_store(e, NULL, tokens, slots, N, 0, &stored));
    CHECK(stored == N, "%s: stored %lld of %d", format, (long long)stored, N);
    rows(&c, slots, 0, N, NULL);
    EXPECT_OK(lmcache4j_retrieve(e, NULL, tokens, slots, N, 0, &loaded));
    CHECK(loaded == N, "%s: loaded %lld", format, (long long)loaded);
    rows(&c, slots, 0, N, after);
    CHECK(memcmp(before, after, rows_bytes(N)) == 0, "%s: retrieved rows differ from stored ones", format);

    /* The same 2000 tokens and 100 new ones: the 7 whole chunks hit (1792), the partial one does not. */
    EXPECT_OK(lmcache4j_lookup(e, NULL, tokens, N + 100, NULL, &hit));
    CHECK(hit == 1792, "%s: prefix hit %lld, expected 1792", format, (long long)hit);
    EXPECT_OK(lmcache4j_retrieve(e, NULL, tokens, slots, N + 100, 0, &loaded));
    CHECK(loaded == 1792, "%s: loaded %lld, expected 1792", format, (long long)loaded);
    EXPECT_OK(lmcache4j_retrieve(e, NULL, tokens, slots, N + 100, 512, &loaded));
    CHECK(loaded == 1280, "%s: skip_leading 512 loaded %lld, expected 1280", format, (long long)loaded);
    EXPECT_OK(lmcache4j_store(e, NULL, tokens, slots, N + 100, 1792, &stored));
    CHECK(stored == 308, "%s: stored %lld beyond the cached prefix, expected 308", format, (long long)stored);

    lmcache4j_engine_stats s = {.struct_size = sizeof s};
    EXPECT_OK(lmcache4j_stats(e, &s));
    CHECK(s.fields == 20 && s.chunks == 10 && s.leases == 0 && s.stored_tokens == N + 308,
          "%s: stats fields %u chunks %llu leases %llu stored %llu", format, s.fields,
          (unsigned long long)s.chunks, (unsigned long long)s.leases, (unsigned long long)s.stored_tokens);
    EXPECT_OK(lmcache4j_close(e));
    free(before);
    free(after);
    caches_free(&c);
}

static void scopes_and_pins(void) {
    caches c;
    caches_init(&c, "flash_attn", 3);
    lmcache4j_engine e = open_engine("flash_attn", &c);
    int32_t tokens[512];
    int64_t slots[512];
    fill_tokens(tokens, 512, 9);
    fill_slots(slots, 512, 0);
    lmcache4j_scope tenant = {"salt-\xc3\xa9", NULL}, lora = {"salt-\xc3\xa9", "adapter-1"};
    int64_t n = -1;
    EXPECT_OK(lmcache4j_store(e, &tenant, tokens, slots, 512, 0, &n));
    EXPECT_OK(lmcache4j_lookup(e, NULL, tokens, 512, NULL, &n));
    CHECK(n == 0, "an unscoped lookup saw the tenant's chunks (%lld)", (long long)n);
    EXPECT_OK(lmcache4j_lookup(e, &lora, tokens, 512, NULL, &n));
    CHECK(n == 0, "another adapter saw them (%lld)", (long long)n);
    EXPECT_OK(lmcache4j_lookup(e, &tenant, tokens, 512, "req-1", &n));
    CHECK(n == 512, "tenant hit %lld", (long long)n);
    lmcache4j_engine_stats s = {.struct_size = sizeof s};
    EXPECT_OK(lmcache4j_stats(e, &s));
    CHECK(s.pins == 2, "pins %llu", (unsigned long long)s.pins);
    EXPECT_OK(lmcache4j_unpin(e, "req-1", &n));
    CHECK(n == 2, "unpinned %lld", (long long)n);
    EXPECT_OK(lmcache4j_unpin(e, "req-1", NULL));

    char json[4096];
    size_t length = 0;
    EXPECT_OK(lmcache4j_config_json(e, json, sizeof json, &length));
    CHECK(strstr(json, "\"chunk_size\": 256") && length == strlen(json), "config %s (%zu)", json, length);
    EXPECT_OK(lmcache4j_config_json(e, NULL, 0, &length));
    CHECK(length > 100, "config length %zu", length);
    EXPECT_OK(lmcache4j_count_prompt(e, 512, 16));
    static char metrics[65536];
    EXPECT_OK(lmcache4j_metrics_json(e, metrics, sizeof metrics, &length));
    CHECK(length == strlen(metrics) && strstr(metrics, "\"name\": \"lmcache:num_vllm_hit_tokens\", \"type\": \"counter\", "
          "\"help\": \"Number of hit tokens in vllm\", \"mode\": \"\", \"label\": \"\", \"samples\": [[\"\", 16.0]]}"),
          "metrics json (%zu) %.300s", length, metrics);
    EXPECT_OK(lmcache4j_metrics_text(e, metrics, sizeof metrics, &length));
    CHECK(length == strlen(metrics) && strstr(metrics, "# TYPE lmcache:num_prompt_tokens_total counter\n")
          && strstr(metrics, "lmcache:num_prompt_tokens_total{model_name=\"")
          && strstr(metrics, ",role=\"worker\",served_model_name=\"\"} 512.0\n"), "metrics text (%zu)", length);
    EXPECT_OK(lmcache4j_clear(e));
    EXPECT_OK(lmcache4j_lookup(e, &tenant, tokens, 512, NULL, &n));
    CHECK(n == 0, "cleared, yet hit %lld", (long long)n);
    EXPECT_OK(lmcache4j_close(e));
    caches_free(&c);
}

/* The uint32 at p, little-endian. */
static uint32_t le32(const unsigned char *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void kv_events(void) {
    caches c;
    caches_init(&c, "flash_attn", 5);
    lmcache4j_engine e = open_engine("flash_attn", &c);
    int32_t tokens[600];
    int64_t slots[600];
    fill_tokens(tokens, 600, 11);
    fill_slots(slots, 600, 0);
    int64_t n = -1;
    size_t length = 99;
    static unsigned char buf[8192];
    EXPECT_OK(lmcache4j_store(e, NULL, tokens, slots, 600, 0, &n));
    EXPECT_OK(lmcache4j_take_kv_events(e, buf, sizeof buf, &length));
    CHECK(length == 0, "events were recorded before lmcache4j_record_kv_events (%zu bytes)", length);

    EXPECT_OK(lmcache4j_record_kv_events(e, 1));
    EXPECT_OK(lmcache4j_clear(e));
    EXPECT_OK(lmcache4j_store(e, NULL, tokens, slots, 600, 0, &n));
    EXPECT_STATUS(lmcache4j_take_kv_events(e, buf, 30, &length), LMCACHE4J_ERR_INVALID_ARGUMENT, "the next KV event takes 40 bytes");
    EXPECT_OK(lmcache4j_take_kv_events(e, buf, sizeof buf, &length));
    /* cleared; then chunks of 256, 256 and 88 tokens */
    size_t expect = 4 * LMCACHE4J_KV_EVENT_HEADER_BYTES + 4 * 600;
    CHECK(length == expect, "events take %zu bytes, expected %zu", length, expect);
    CHECK(buf[0] == LMCACHE4J_KV_EVENT_CLEARED, "first record kind %d", buf[0]);
    const unsigned char *r = buf + LMCACHE4J_KV_EVENT_HEADER_BYTES;
    uint32_t sizes[3] = {256, 256, 88};
    for (int i = 0; i < 3; i++) {
        CHECK(r[0] == LMCACHE4J_KV_EVENT_STORED && le32(r + 4) == sizes[i], "record %d: kind %d, %u tokens", i + 1, r[0],
              le32(r + 4));
        CHECK((r[1] & 1) == (i > 0), "record %d: parent flag %d", i + 1, r[1]);
        if (i > 0) CHECK(memcmp(r + 24, r - 4 * sizes[i - 1] - 32, 16) == 0, "record %d: parent is not the previous key", i + 1);
        CHECK((int32_t)le32(r + 40) == tokens[i * 256], "record %d: first token", i + 1);
        r += LMCACHE4J_KV_EVENT_HEADER_BYTES + 4 * sizes[i];
    }
    EXPECT_OK(lmcache4j_take_kv_events(e, buf, sizeof buf, &length));
    CHECK(length == 0, "taken twice (%zu bytes)", length);
    EXPECT_STATUS(lmcache4j_take_kv_events(e, NULL, 10, &length), LMCACHE4J_ERR_INVALID_ARGUMENT, "buf is NULL");
    EXPECT_STATUS(lmcache4j_take_kv_events(e, buf, sizeof buf, NULL), LMCACHE4J_ERR_INVALID_ARGUMENT, "out_length is NULL");
    EXPECT_OK(lmcache4j_record_kv_events(e, 0));
    EXPECT_OK(lmcache4j_close(e));
    EXPECT_STATUS(lmcache4j_take_kv_events(e, buf, sizeof buf, &length), LMCACHE4J_ERR_CLOSED, "is closed");
    caches_free(&c);
}

static void error_paths(void) {
    caches c;
    caches_init(&c, "blocks_first", 5);
    lmcache4j_layout layout = layout_of("blocks_first"), bad;
    lmcache4j_engine e = 0;
    int32_t tokens[300];
    int64_t slots[300], n = 0;
    fill_tokens(tokens, 300, 2);
    fill_slots(slots, 300, 0);

    EXPECT_STATUS(lmcache4j_open(NULL, &layout, NULL, NULL), LMCACHE4J_ERR_INVALID_ARGUMENT, "out_engine is NULL");
    EXPECT_STATUS(lmcache4j_open(NULL, NULL, NULL, &e), LMCACHE4J_ERR_INVALID_ARGUMENT, "layout is NULL");
    bad = layout, bad.struct_size = 8;
    EXPECT_STATUS(lmcache4j_open(NULL, &bad, NULL, &e), LMCACHE4J_ERR_INVALID_ARGUMENT, "set it to sizeof(lmcache4j_layout)");
    lmcache4j_options small = {4, NULL, NULL, 0, 0};
    EXPECT_STATUS(lmcache4j_open(NULL, &layout, &small, &e), LMCACHE4J_ERR_INVALID_ARGUMENT, "sizeof(lmcache4j_options)");
    bad = layout, bad.dtype = "int4";
    EXPECT_STATUS(lmcache4j_open(NULL, &bad, NULL, &e), LMCACHE4J_ERR_INVALID_ARGUMENT, "unsupported KV dtype 'int4'");
    bad = layout, bad.dtype = NULL;
    EXPECT_STATUS(lmcache4j_open(NULL, &bad, NULL, &e), LMCACHE4J_ERR_INVALID_ARGUMENT, "unsupported KV dtype");
    bad = layout, bad.kv_format = "hnd";
    EXPECT_STATUS(lmcache4j_open(NULL, &bad, NULL, &e), LMCACHE4J_ERR_INVALID_ARGUMENT, "unsupported KV cache format 'hnd'");
    bad = layout, bad.num_layers = 0;
    EXPECT_STATUS(lmcache4j_open(NULL, &bad, NULL, &e), LMCACHE4J_ERR_INVALID_ARGUMENT, "num_layers must be positive");
    EXPECT_STATUS(lmcache4j_open("/nonexistent/lmcache.yaml", &layout, NULL, &e), LMCACHE4J_ERR_INVALID_ARGUMENT,
                  "/nonexistent/lmcache.yaml does not exist");
    lmcache4j_options bad_settings = {sizeof bad_settings, "{\"chunk_size\": \"big\"}", NULL, 0, 0};
    EXPECT_STATUS(lmcache4j_open(NULL, &layout, &bad_settings, &e), LMCACHE4J_ERR_INVALID_ARGUMENT, "chunk_size: 'big'");
    lmcache4j_options bad_rank = {sizeof bad_rank, SETTINGS, NULL, 2, 2};
    EXPECT_STATUS(lmcache4j_open(NULL, &layout, &bad_rank, &e), LMCACHE4J_ERR_INVALID_ARGUMENT, "is not a rank of world_size 2");
    /* LMCache settings for features LMCache4j lacks: the open fails, naming each key and feature */
    lmcache4j_options refused = {sizeof refused, "{\"enable_pd\": true, \"remote_url\": \"lm://cache:81\"}", NULL, 0, 0};
    EXPECT_STATUS(lmcache4j_open(NULL, &layout, &refused, &e), LMCACHE4J_ERR_INVALID_ARGUMENT,
                  "enable_pd: 'true' (from the caller's settings");
    CHECK(strstr(lmcache4j_last_error(), "remote_url: 'lm://cache:81'") != NULL, "%s", lmcache4j_last_error());
    CHECK(e == 0, "a failed open wrote its output");

    lmcache4j_options options = {sizeof options, SETTINGS, NULL, 0, 0};
    EXPECT_OK(lmcache4j_open(NULL, &layout, &options, &e));
    EXPECT_STATUS(lmcache4j_store(e, NULL, tokens, slots, 300, 0, &n), LMCACHE4J_ERR_STATE,
                  "call lmcache4j_register_kv_caches (Engine.register_kv_caches in Python) first");
    EXPECT_STATUS(lmcache4j_register_kv_caches(e, c.address, LAYERS - 1, -1), LMCACHE4J_ERR_INVALID_ARGUMENT,
                  "expected 4 layer caches, got 3");
    EXPECT_STATUS(lmcache4j_register_kv_caches(e, NULL, LAYERS, -1), LMCACHE4J_ERR_INVALID_ARGUMENT, "layer addresses is NULL");
    EXPECT_STATUS(lmcache4j_register_kv_caches(e, c.address, LAYERS, 0), LMCACHE4J_ERR_INVALID_ARGUMENT,
                  "CUDA device 0 need a CUDA driver");
    EXPECT_STATUS(lmcache4j_register_kv_caches(e, c.address, LAYERS, -3), LMCACHE4J_ERR_INVALID_ARGUMENT, "device -3");
    EXPECT_OK(lmcache4j_register_kv_caches(e, c.address, LAYERS, LMCACHE4J_DEVICE_AUTO)); /* the driver (none) says host */
    EXPECT_OK(lmcache4j_register_kv_caches(e, c.address, LAYERS, LMCACHE4J_DEVICE_HOST));
    CHECK(lmcache4j_last_error()[0] == '\0', "a success left the message '%s'", lmcache4j_last_error());

    EXPECT_STATUS(lmcache4j_lookup(e, NULL, NULL, 5, NULL, &n), LMCACHE4J_ERR_INVALID_ARGUMENT, "tokens is NULL");
    EXPECT_STATUS(lmcache4j_lookup(e, NULL, tokens, 5, NULL, NULL), LMCACHE4J_ERR_INVALID_ARGUMENT, "out_hit_tokens is NULL");
    EXPECT_STATUS(lmcache4j_lookup(e, NULL, tokens, (size_t)1 << 31, NULL, &n), LMCACHE4J_ERR_INVALID_ARGUMENT,
                  "num_tokens is 2147483648");
    lmcache4j_scope not_utf8 = {"\xff\xfe", NULL};
    EXPECT_STATUS(lmcache4j_lookup(e, &not_utf8, tokens, 5, NULL, &n), LMCACHE4J_ERR_INVALID_ARGUMENT, "not valid UTF-8");
    int64_t out_of_range[300];
    memcpy(out_of_range, slots, sizeof slots);
    out_of_range[299] = SLOTS;
    EXPECT_STATUS(lmcache4j_store(e, NULL, tokens, out_of_range, 300, 0, &n), LMCACHE4J_ERR_INVALID_ARGUMENT,
                  "slot_mapping[299] = 2560 is outside the registered caches");
    EXPECT_STATUS(lmcache4j_store(e, NULL, tokens, NULL, 300, 0, &n), LMCACHE4J_ERR_INVALID_ARGUMENT, "slot_mapping is NULL");
    EXPECT_STATUS(lmcache4j_store(e, NULL, tokens, slots, 300, 0, NULL), LMCACHE4J_ERR_INVALID_ARGUMENT, "out_stored is NULL");
    EXPECT_STATUS(lmcache4j_retrieve(e, NULL, tokens, slots, 300, 100, &n), LMCACHE4J_ERR_INVALID_ARGUMENT,
                  "skip_leading 100 is not a multiple of chunk_size 256");
    EXPECT_STATUS(lmcache4j_retrieve(e, NULL, tokens, slots, 300, 512, &n), LMCACHE4J_ERR_INVALID_ARGUMENT,
                  "skip_leading 512 is outside 0..300");
    EXPECT_STATUS(lmcache4j_retrieve(e, NULL, tokens, slots, 300, 0, NULL), LMCACHE4J_ERR_INVALID_ARGUMENT, "out_loaded is NULL");
    EXPECT_STATUS(lmcache4j_unpin(e, NULL, &n), LMCACHE4J_ERR_INVALID_ARGUMENT, "request id must not be empty");
    EXPECT_STATUS(lmcache4j_lookup(e, NULL, tokens, 5, "", &n), LMCACHE4J_ERR_INVALID_ARGUMENT, "request id must not be empty");
    lmcache4j_engine_stats s = {.struct_size = 4};
    EXPECT_STATUS(lmcache4j_stats(e, &s), LMCACHE4J_ERR_INVALID_ARGUMENT, "sizeof(lmcache4j_engine_stats)");
    EXPECT_STATUS(lmcache4j_stats(e, NULL), LMCACHE4J_ERR_INVALID_ARGUMENT, "out is NULL");
    EXPECT_STATUS(lmcache4j_config_json(e, NULL, 10, NULL), LMCACHE4J_ERR_INVALID_ARGUMENT, "buf is NULL");
    EXPECT_STATUS(lmcache4j_metrics_json(e, NULL, 10, NULL), LMCACHE4J_ERR_INVALID_ARGUMENT, "buf is NULL");
    EXPECT_STATUS(lmcache4j_count_prompt(e, -1, 0), LMCACHE4J_ERR_INVALID_ARGUMENT, "must be in 0..2^31-1");
    EXPECT_STATUS(lmcache4j_count_prompt(e, 10, 11), LMCACHE4J_ERR_INVALID_ARGUMENT, "the hit at most the prompt");
    EXPECT_STATUS(lmcache4j_serve_lookups(e, NULL), LMCACHE4J_ERR_INVALID_ARGUMENT, "socket path must be given");
    EXPECT_STATUS(lmcache4j_serve_lookups(e, "/tmp/x.sock"), LMCACHE4J_ERR_INVALID_ARGUMENT, "must be private to its owner");
    char dir[] = "/tmp/lmcache4j-test-XXXXXX", socket[64];
    CHECK(mkdtemp(dir) != NULL, "mkdtemp");
    snprintf(socket, sizeof socket, "%s/e.sock", dir);
    EXPECT_OK(lmcache4j_serve_lookups(e, socket));
    struct stat st;
    CHECK(stat(socket, &st) == 0 && S_ISSOCK(st.st_mode) && (st.st_mode & 0777) == 0600, "socket mode %o", st.st_mode);
    EXPECT_STATUS(lmcache4j_serve_lookups(e, socket), LMCACHE4J_ERR_STATE, "already serves lookups");

    EXPECT_STATUS(lmcache4j_store_on_stream(e, NULL, tokens, slots, 300, 0, 0x5000, &n), LMCACHE4J_ERR_INVALID_ARGUMENT,
                  "the KV caches are host memory");
    EXPECT_STATUS(lmcache4j_retrieve_on_stream(e, NULL, tokens, slots, 300, 0, 0x5000, &n),
                  LMCACHE4J_ERR_INVALID_ARGUMENT, "CUDA stream 0x5000 was given");

    /* Bad input changed nothing: the engine still works, and closing removes the socket. */
    EXPECT_OK(lmcache4j_store(e, NULL, tokens, slots, 300, 0, &n));
    CHECK(n == 300, "stored %lld", (long long)n);
    EXPECT_OK(lmcache4j_wait_transfers(e));
    EXPECT_OK(lmcache4j_retrieve_on_stream(e, NULL, tokens, slots, 300, 0, 0, &n)); /* the default stream: host is fine */
    CHECK(n == 300, "retrieved %lld on the default stream", (long long)n);
    EXPECT_OK(lmcache4j_close(e));
    CHECK(stat(socket, &st) != 0, "the socket outlived its engine");
    rmdir(dir);

    EXPECT_STATUS(lmcache4j_lookup(e, NULL, tokens, 5, NULL, &n), LMCACHE4J_ERR_CLOSED, "is closed");
    EXPECT_STATUS(lmcache4j_store(e, NULL, tokens, slots, 300, 0, &n), LMCACHE4J_ERR_CLOSED, "is closed");
    EXPECT_STATUS(lmcache4j_retrieve(e, NULL, tokens, slots, 300, 0, &n), LMCACHE4J_ERR_CLOSED, "is closed");
    EXPECT_STATUS(lmcache4j_wait_transfers(e), LMCACHE4J_ERR_CLOSED, "is closed");
    EXPECT_STATUS(lmcache4j_register_kv_caches(e, c.address, LAYERS, -1), LMCACHE4J_ERR_CLOSED, "is closed");
    EXPECT_STATUS(lmcache4j_unpin(e, "r", &n), LMCACHE4J_ERR_CLOSED, "is closed");
    s.struct_size = sizeof s;
    EXPECT_STATUS(lmcache4j_stats(e, &s), LMCACHE4J_ERR_CLOSED, "is closed");
    EXPECT_STATUS(lmcache4j_config_json(e, NULL, 0, NULL), LMCACHE4J_ERR_CLOSED, "is closed");
    EXPECT_STATUS(lmcache4j_metrics_text(e, NULL, 0, NULL), LMCACHE4J_ERR_CLOSED, "is closed");
    EXPECT_STATUS(lmcache4j_count_prompt(e, 1, 0), LMCACHE4J_ERR_CLOSED, "is closed");
    EXPECT_STATUS(lmcache4j_serve_lookups(e, "/tmp/y.sock"), LMCACHE4J_ERR_CLOSED, "is closed");
    EXPECT_STATUS(lmcache4j_clear(e), LMCACHE4J_ERR_CLOSED, "is closed");
    EXPECT_STATUS(lmcache4j_close(e), LMCACHE4J_ERR_CLOSED, "is closed");
    EXPECT_STATUS(lmcache4j_close(0), LMCACHE4J_ERR_INVALID_ARGUMENT, "0 is not an engine handle");
    EXPECT_STATUS(lmcache4j_close(1u << 30), LMCACHE4J_ERR_INVALID_ARGUMENT, "is not an engine handle");
    CHECK(strcmp(lmcache4j_status_name(99), "LMCACHE4J_UNKNOWN_STATUS") == 0, "status name of 99");
    caches_free(&c);
}

/* Prefetch handles (version 4): states, pins, and every wrong use of a handle. */
static void prefetch_handles(void) {
    caches c, d;
    caches_init(&c, "flash_attn", 13);
    caches_init(&d, "flash_attn", 14);
    lmcache4j_engine e = open_engine("flash_attn", &c), other = open_engine("flash_attn", &d);
    int32_t tokens[600];
    int64_t slots[600], n = -1, ready = -1;
    int32_t state = -1, flag = -1;
    fill_tokens(tokens, 600, 17);
    fill_slots(slots, 600, 0);
    EXPECT_OK(lmcache4j_store(e, NULL, tokens, slots, 600, 0, &n));

    /* No lower tier: the prefetch has finished on return, the whole prompt in the pool, pinned. */
    lmcache4j_prefetch_handle p = 0, q = 0;
    EXPECT_OK(lmcache4j_prefetch(e, NULL, tokens, 600, "req-p", &p));
    CHECK(p != 0, "prefetch handle 0");
    EXPECT_OK(lmcache4j_prefetch_state(e, p, &state, &ready));
    CHECK(state == LMCACHE4J_PREFETCH_DONE && ready == 600, "state %d ready %lld", state, (long long)ready);
    EXPECT_OK(lmcache4j_prefetch_await(e, p, 0, &flag));
    CHECK(flag == 1, "a finished prefetch did not await (%d)", flag);
    flag = 0;
    EXPECT_OK(lmcache4j_prefetch_await(e, p, INT64_MAX, &flag)); /* "forever": once an internal error (overflow) */
    CHECK(flag == 1, "a finished prefetch did not await forever (%d)", flag);
    EXPECT_OK(lmcache4j_prefetch_cancel(e, p, &flag));
    CHECK(flag == 0, "a finished prefetch was cancelled");
    EXPECT_OK(lmcache4j_prefetch_state(e, p, NULL, NULL));
    lmcache4j_engine_stats s = {.struct_size = sizeof s};
    EXPECT_OK(lmcache4j_stats(e, &s));
    CHECK(s.pins == 3 && s.leases == 3, "pins %llu leases %llu", (unsigned long long)s.pins, (unsigned long long)s.leases);
    EXPECT_OK(lmcache4j_unpin(e, "req-p", &n));
    CHECK(n == 3, "unpinned %lld", (long long)n);
    int64_t pool = -1;
    EXPECT_OK(lmcache4j_lookup_tiers(e, NULL, tokens, 600, "req-t", &n, &pool));
    CHECK(n == 600 && pool == 600, "lookup_tiers: hit %lld, in the pool %lld", (long long)n, (long long)pool);
    EXPECT_OK(lmcache4j_unpin(e, "req-t", &n));
    CHECK(n == 3, "lookup_tiers pinned %lld", (long long)n);
    EXPECT_OK(lmcache4j_lookup_tiers(e, NULL, tokens, 600, NULL, &n, NULL));
    EXPECT_STATUS(lmcache4j_lookup_tiers(e, NULL, tokens, 600, NULL, NULL, &pool), LMCACHE4J_ERR_INVALID_ARGUMENT,
                  "out_hit_tokens is NULL");

    /* Wrong uses: nothing changes, and the handle still answers. */
    EXPECT_STATUS(lmcache4j_prefetch(e, NULL, tokens, 600, NULL, NULL), LMCACHE4J_ERR_INVALID_ARGUMENT, "out_prefetch is NULL");
    EXPECT_STATUS(lmcache4j_prefetch(e, NULL, NULL, 600, NULL, &q), LMCACHE4J_ERR_INVALID_ARGUMENT, "tokens is NULL");
    EXPECT_STATUS(lmcache4j_prefetch(e, NULL, tokens, 5, "", &q), LMCACHE4J_ERR_INVALID_ARGUMENT, "request id must not be empty");
    CHECK(q == 0, "a failed prefetch wrote its output");
    EXPECT_STATUS(lmcache4j_prefetch_await(e, p, -1, &flag), LMCACHE4J_ERR_INVALID_ARGUMENT, "must not be negative");
    EXPECT_STATUS(lmcache4j_prefetch_state(e, 0, &state, NULL), LMCACHE4J_ERR_INVALID_ARGUMENT, "0 is not a prefetch handle");
    EXPECT_STATUS(lmcache4j_prefetch_state(e, 1u << 30, &state, NULL), LMCACHE4J_ERR_INVALID_ARGUMENT, "is not a prefetch handle");
    EXPECT_STATUS(lmcache4j_prefetch_state(other, p, &state, NULL), LMCACHE4J_ERR_INVALID_ARGUMENT, "not to engine");
    EXPECT_STATUS(lmcache4j_prefetch_close(other, p), LMCACHE4J_ERR_INVALID_ARGUMENT, "not to engine");
    EXPECT_OK(lmcache4j_prefetch_state(e, p, &state, &ready));

    /* Closed: a dead handle, and closing twice says so. */
    EXPECT_OK(lmcache4j_prefetch_close(e, p));
    EXPECT_STATUS(lmcache4j_prefetch_close(e, p), LMCACHE4J_ERR_CLOSED, "is closed");
    EXPECT_STATUS(lmcache4j_prefetch_state(e, p, &state, NULL), LMCACHE4J_ERR_CLOSED, "is closed");
    EXPECT_STATUS(lmcache4j_prefetch_await(e, p, 10, &flag), LMCACHE4J_ERR_CLOSED, "is closed");
    EXPECT_STATUS(lmcache4j_prefetch_cancel(e, p, &flag), LMCACHE4J_ERR_CLOSED, "is closed");

    /* A prefetch left open when its engine closes: its calls say the engine is closed. */
    EXPECT_OK(lmcache4j_prefetch(e, NULL, tokens, 600, NULL, &q));
    EXPECT_OK(lmcache4j_close(e));
    EXPECT_STATUS(lmcache4j_prefetch_state(e, q, &state, NULL), LMCACHE4J_ERR_CLOSED, "engine");
    EXPECT_STATUS(lmcache4j_prefetch_close(e, q), LMCACHE4J_ERR_CLOSED, "is closed");
    EXPECT_STATUS(lmcache4j_prefetch(e, NULL, tokens, 600, NULL, &q), LMCACHE4J_ERR_CLOSED, "is closed");
    EXPECT_OK(lmcache4j_stats(other, &s));
    CHECK(s.pins == 0 && s.leases == 0, "other engine: pins %llu leases %llu", (unsigned long long)s.pins,
          (unsigned long long)s.leases);
    EXPECT_OK(lmcache4j_close(other));
    caches_free(&c);
    caches_free(&d);
}

/* Threads store, retrieve and check their own prompts in their own slots, all at once. */
typedef struct worker {
    lmcache4j_engine engine;
    caches *c;
    int index, failures;
} worker;

static void *work(void *arg) {
    worker *w = arg;
    enum { N = 300 };
    int32_t tokens[N];
    int64_t slots[N];
    unsigned char *before = malloc(rows_bytes(N)), *after = malloc(rows_bytes(N));
    for (int round = 0; round < 10; round++) {
        fill_tokens(tokens, N, (unsigned)(w->index * 100 + round));
        for (int i = 0; i < N; i++) slots[i] = (int64_t)w->index * N + i;
        rows(w->c, slots, 0, N, before);
        int64_t stored = 0, hit = 0, loaded = 0;
        int rc = lmcache4j_store(w->engine, NULL, tokens, slots, N, 0, &stored);
        rc |= lmcache4j_lookup(w->engine, NULL, tokens, N, NULL, &hit);
        rows(w->c, slots, 0, N, NULL);
        rc |= lmcache4j_retrieve(w->engine, NULL, tokens, slots, N, 0, &loaded);
        rows(w->c, slots, 0, N, after);
        if (rc || stored != N || hit != N || loaded != N || memcmp(before, after, rows_bytes(N)) != 0) {
            fprintf(stderr, "thread %d round %d: rc %d stored %lld hit %lld loaded %lld: %s\n", w->index, round, rc,
                    (long long)stored, (long long)hit, (long long)loaded, lmcache4j_last_error());
            w->failures++;
        }
    }
    free(before);
    free(after);
    return NULL;
}

static void threads(void) {
    caches c;
    caches_init(&c, "flash_attn", 11);
    lmcache4j_engine e = open_engine("flash_attn", &c);
    enum { THREADS = 8 };
    pthread_t t[THREADS];
    worker w[THREADS];
    for (int i = 0; i < THREADS; i++) {
        w[i] = (worker){e, &c, i, 0};
        pthread_create(&t[i], NULL, work, &w[i]);
    }
    int failures = 0;
    for (int i = 0; i < THREADS; i++) {
        pthread_join(t[i], NULL);
        failures += w[i].failures;
    }
    CHECK(failures == 0, "%d thread rounds failed", failures);
    lmcache4j_engine_stats s = {.struct_size = sizeof s};
    EXPECT_OK(lmcache4j_stats(e, &s));
    CHECK(s.leases == 0 && s.pins == 0, "leases %llu pins %llu", (unsigned long long)s.leases, (unsigned long long)s.pins);
    EXPECT_OK(lmcache4j_close(e));
    caches_free(&c);
}

/* A fork() child of a process that runs the JVM gets an error, not a hang or a crash. */
static void forked_child(void) {
    pid_t pid = fork();
    if (pid == 0) {
        int64_t n;
        int32_t token = 1;
        int rc = lmcache4j_lookup(1, NULL, &token, 1, NULL, &n);
        _exit(rc == LMCACHE4J_ERR_JVM && strstr(lmcache4j_last_error(), "fork()") ? 0 : 1);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "the forked child did not get LMCACHE4J_ERR_JVM (status %d)", status);
}

/* Runs this program as "open-fails" with one more environment variable; checks the message. */
static void jvm_start_fails(const char *var, const char *value, const char *expected) {
    char *self = realpath("/proc/self/exe", NULL), setting[512], expect[512];
    snprintf(setting, sizeof setting, "%s=%s", var, value);
    snprintf(expect, sizeof expect, "EXPECT=%s", expected);
    size_t n = 0;
    while (environ[n]) n++;
    char **env = calloc(n + 3, sizeof *env);
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (strncmp(environ[i], var, strlen(var)) != 0 || environ[i][strlen(var)] != '=') env[k++] = environ[i];
    env[k++] = setting;
    env[k++] = expect;
    char *argv[] = {self, (char *)"open-fails", NULL};
    pid_t pid;
    int status = -1;
    if (posix_spawn(&pid, self, NULL, NULL, argv, env) == 0) waitpid(pid, &status, 0);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "with %s: the child failed (status %d)", setting, status);
    free(env);
    free(self);
}

/* In a child: the first and the second open both fail with LMCACHE4J_ERR_JVM and $EXPECT. */
static int open_fails(void) {
    lmcache4j_layout layout = layout_of("flash_attn");
    lmcache4j_engine e = 0;
    const char *expected = getenv("EXPECT");
    for (int attempt = 0; attempt < 2; attempt++) {
        EXPECT_STATUS(lmcache4j_open(NULL, &layout, NULL, &e), LMCACHE4J_ERR_JVM, expected);
    }
    printf("  expected failure (a child process, on purpose): %s\n", lmcache4j_last_error());
    return check_failures ? 1 : 0;
}

/* layerwise: a store copied layer by layer is the whole-chunk store's bytes, and back; misuse is refused. */
static void layerwise(const char *format) {
    caches c;
    caches_init(&c, format, 11);
    lmcache4j_engine e = open_engine(format, &c);
    enum { N = 600 };
    static int32_t tokens[N];
    static int64_t slots[N], other[N];
    fill_tokens(tokens, N, 5);
    for (int i = 0; i < N; i++) {
        slots[i] = i;
        other[i] = 1000 + i;
    }
    unsigned char *stored = malloc(rows_bytes(N)), *loaded = malloc(rows_bytes(N));
    rows(&c, slots, 0, N, stored);

    lmcache4j_layered op = 0;
    int64_t n = -1, copied = -1, hit = -1, got = -1;
    EXPECT_OK(lmcache4j_store_layers(e, NULL, tokens, slots, N, 0, 0, &op, &n));
    CHECK(op != 0 && n == N, "%s: store_layers planned %lld tokens", format, (long long)n);
    EXPECT_STATUS(lmcache4j_copy_layer(e, op, 1), LMCACHE4J_ERR_INVALID_ARGUMENT, "layer 0 is next");
    for (int32_t l = 0; l < LAYERS; l++) {
        EXPECT_OK(lmcache4j_lookup(e, NULL, tokens, N, NULL, &hit));
        CHECK(hit == 0, "%s: served before layer %d was in", format, l);
        EXPECT_OK(lmcache4j_copy_layer(e, op, l));
    }
    EXPECT_OK(lmcache4j_close_layers(e, op, &copied));
    CHECK(copied == LAYERS, "%s: copied %lld layers", format, (long long)copied);
    EXPECT_STATUS(lmcache4j_copy_layer(e, op, 0), LMCACHE4J_ERR_INVALID_ARGUMENT, "not an open layer-by-layer");
    EXPECT_OK(lmcache4j_retrieve(e, NULL, tokens, other, N, 0, &got));
    rows(&c, other, 0, N, loaded);
    CHECK(got == N && memcmp(stored, loaded, rows_bytes(N)) == 0, "%s: a layered store, loaded whole, differs",
          format);

    rows(&c, other, 0, N, NULL);
    EXPECT_OK(lmcache4j_retrieve_layers(e, NULL, tokens, other, N, 256, 0, &op, &n));
    CHECK(n == N - 256, "%s: retrieve_layers will load %lld tokens", format, (long long)n);
    EXPECT_STATUS(lmcache4j_await_layer(e, op, 0), LMCACHE4J_ERR_INVALID_ARGUMENT, "has not been copied");
    EXPECT_OK(lmcache4j_copy_layer(e, op, 0));
    for (int32_t l = 0; l < LAYERS; l++) {
        if (l + 1 < LAYERS) EXPECT_OK(lmcache4j_copy_layer(e, op, l + 1));
        EXPECT_OK(lmcache4j_await_layer(e, op, l));
    }
    EXPECT_OK(lmcache4j_close_layers(e, op, NULL));
    rows(&c, other, 256, N, loaded);
    unsigned char *want = malloc(rows_bytes(N - 256));
    rows(&c, slots, 256, N, want);
    CHECK(memcmp(want, loaded, rows_bytes(N - 256)) == 0, "%s: a layered retrieve differs from the stored rows", format);

    /* Given up after one layer: nothing stored, nothing leased. */
    int32_t fresh[N];
    fill_tokens(fresh, N, 6);
    EXPECT_OK(lmcache4j_store_layers(e, NULL, fresh, slots, N, 0, 0, &op, &n));
    EXPECT_OK(lmcache4j_copy_layer(e, op, 0));
    EXPECT_OK(lmcache4j_close_layers(e, op, &copied));
    CHECK(copied == 1, "%s: copied %lld layers before closing", format, (long long)copied);
    EXPECT_OK(lmcache4j_lookup(e, NULL, fresh, N, NULL, &hit));
    CHECK(hit == 0, "%s: a store given up after one layer was served", format);
    EXPECT_STATUS(lmcache4j_close_layers(e, op, NULL), LMCACHE4J_ERR_INVALID_ARGUMENT, "not an open");
    EXPECT_STATUS(lmcache4j_store_layers(e, NULL, fresh, slots, N, 0, 0, NULL, &n), LMCACHE4J_ERR_INVALID_ARGUMENT,
                  "out_op is NULL");
    /* A handle left open is given up when its engine closes. */
    EXPECT_OK(lmcache4j_store_layers(e, NULL, fresh, slots, N, 0, 0, &op, &n));
    EXPECT_OK(lmcache4j_close(e));
    EXPECT_STATUS(lmcache4j_copy_layer(e, op, 0), LMCACHE4J_ERR_CLOSED, "closed");
    free(want);
    free(stored);
    free(loaded);
    caches_free(&c);
}

int main(int argc, char **argv) {
    if (argc > 1 && strcmp(argv[1], "open-fails") == 0) return open_fails();
    CHECK(lmcache4j_abi_version() == LMCACHE4J_ABI_VERSION, "abi version %d", lmcache4j_abi_version());
    store_retrieve_byte_exact("flash_attn");
    store_retrieve_byte_exact("blocks_first");
    layerwise("flash_attn");
    layerwise("blocks_first");
    scopes_and_pins();
    kv_events();
    error_paths();
    prefetch_handles();
    threads();
    forked_child();
    jvm_start_fails("LMCACHE4J_JAVA_HOME", "/nonexistent/jdk", "LMCACHE4J_JAVA_HOME=/nonexistent/jdk (no lib/server/libjvm.so)");
    if (access("/usr/lib/jvm/java-17-openjdk-amd64/lib/server/libjvm.so", R_OK) == 0) {
        jvm_start_fails("LMCACHE4J_JAVA_HOME", "/usr/lib/jvm/java-17-openjdk-amd64", "(Java 17: too old)");
    }
    jvm_start_fails("LMCACHE4J_JAR", "/nonexistent/engine.jar", "LMCACHE4J_JAR=/nonexistent/engine.jar is not a readable file");
    jvm_start_fails("LMCACHE4J_JAR", "/proc/self/status", "cannot load the engine's bridge class");
    printf("  expected: the JVM of the next child complains about a bad option (on purpose)\n");
    fflush(stdout);
    jvm_start_fails("LMCACHE4J_JVM_OPTS", "-XX:+NoSuchOptionAnywhere", "did not start (JNI_CreateJavaVM");
    printf("test_abi: %d checks, %d failed\n", check_count, check_failures);
    return check_failures ? 1 : 0;
}
