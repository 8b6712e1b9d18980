/*
 * The C ABI on paged caches in CUDA device memory, on the CPU-run CUDA driver (docs/cuda-emulator.md).
 *
 * The driver is dlopen'ed by the path in LMCACHE4J_CUDA_DRIVER, the path the engine's JVM loads it
 * by, so this test and the engine share one driver (as torch and the engine share libcuda.so.1 on
 * a GPU). The test plays the serving engine: device caches from cuMemAlloc in device 0's primary
 * context (current on this thread, as torch leaves it), a stream of its own, a "forward pass" that
 * computes on that stream (a host function that sleeps) and then writes its KV there, read-backs
 * on that stream. Covered: store/retrieve on a stream in every format and both transfer modes,
 * registration with device 0 and LMCACHE4J_DEVICE_AUTO, the legacy default stream, -1 slots,
 * bad input (a device that does not exist, a wrong device claim, device memory claimed as host,
 * caches on two devices, another context's stream, a dead or garbage stream) with status and
 * message and nothing changed, host caches with a driver present, close; and at the end the
 * emulator's live resources as they were at the start.
 *
 * Needs LMCACHE4J_CUDA_DRIVER, LMCACHE4J_CUDA_FATBIN and LMCACHE4J_CUDA_EMULATOR_DEVICES=2
 * (make device-test sets them).
 */
#include <dlfcn.h>
#include <stdlib.h>
#include <time.h>

#include "../cuda-emulator/lmcache4j_cuda_emulator.h"
#include "check.h"

/* ---- the driver API, bound by dlsym (no cuda.h needed) ---- */

typedef int CUresult;
typedef int CUdevice;
typedef void *CUcontext;
typedef void *CUstream;
typedef unsigned long long CUdeviceptr;
typedef void (*CUhostFn)(void *user_data);

static struct {
    CUresult (*init)(unsigned flags);
    CUresult (*error_name)(CUresult rc, const char **name);
    CUresult (*device_count)(int *count);
    CUresult (*device_get)(CUdevice *dev, int ordinal);
    CUresult (*primary_retain)(CUcontext *ctx, CUdevice dev);
    CUresult (*primary_release)(CUdevice dev);
    CUresult (*ctx_create)(CUcontext *ctx, unsigned flags, CUdevice dev);
    CUresult (*ctx_destroy)(CUcontext ctx);
    CUresult (*ctx_push)(CUcontext ctx);
    CUresult (*ctx_pop)(CUcontext *ctx);
    CUresult (*ctx_get_current)(CUcontext *ctx);
    CUresult (*mem_alloc)(CUdeviceptr *ptr, size_t bytes);
    CUresult (*mem_free)(CUdeviceptr ptr);
    CUresult (*htod)(CUdeviceptr dst, const void *src, size_t bytes);
    CUresult (*dtoh)(void *dst, CUdeviceptr src, size_t bytes);
    CUresult (*htod_async)(CUdeviceptr dst, const void *src, size_t bytes, CUstream stream);
    CUresult (*dtoh_async)(void *dst, CUdeviceptr src, size_t bytes, CUstream stream);
    CUresult (*stream_create)(CUstream *stream, unsigned flags);
    CUresult (*stream_destroy)(CUstream stream);
    CUresult (*stream_synchronize)(CUstream stream);
    CUresult (*launch_host_func)(CUstream stream, CUhostFn fn, void *user_data);
    int (*counts)(struct lmcache4j_cuda_emulator_counts *out);
    void (*set_delay_us)(uint32_t micros);
} cu;

static void bind(void *lib, const char *name, void *slot, size_t size) {
    void *sym = dlsym(lib, name);
    if (sym == NULL) {
        fprintf(stderr, "test_device: %s is not in the driver: %s\n", name, dlerror());
        exit(2);
    }
    memcpy(slot, &sym, size);
}

#define BIND(lib, field, name) bind((lib), (name), &cu.field, sizeof cu.field)

static void load_driver(const char *path) {
    void *lib = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (lib == NULL) {
        fprintf(stderr, "test_device: cannot load LMCACHE4J_CUDA_DRIVER=%s: %s\n", path, dlerror());
        exit(2);
    }
    BIND(lib, init, "cuInit");
    BIND(lib, error_name, "cuGetErrorName");
    BIND(lib, device_count, "cuDeviceGetCount");
    BIND(lib, device_get, "cuDeviceGet");
    BIND(lib, primary_retain, "cuDevicePrimaryCtxRetain");
    BIND(lib, primary_release, "cuDevicePrimaryCtxRelease_v2");
    BIND(lib, ctx_create, "cuCtxCreate_v2");
    BIND(lib, ctx_destroy, "cuCtxDestroy_v2");
    BIND(lib, ctx_push, "cuCtxPushCurrent_v2");
    BIND(lib, ctx_pop, "cuCtxPopCurrent_v2");
    BIND(lib, ctx_get_current, "cuCtxGetCurrent");
    BIND(lib, mem_alloc, "cuMemAlloc_v2");
    BIND(lib, mem_free, "cuMemFree_v2");
    BIND(lib, htod, "cuMemcpyHtoD_v2");
    BIND(lib, dtoh, "cuMemcpyDtoH_v2");
    BIND(lib, htod_async, "cuMemcpyHtoDAsync_v2");
    BIND(lib, dtoh_async, "cuMemcpyDtoHAsync_v2");
    BIND(lib, stream_create, "cuStreamCreate");
    BIND(lib, stream_destroy, "cuStreamDestroy_v2");
    BIND(lib, stream_synchronize, "cuStreamSynchronize");
    BIND(lib, launch_host_func, "cuLaunchHostFunc");
    BIND(lib, counts, "lmcache4j_cuda_emulator_counts");
    BIND(lib, set_delay_us, "lmcache4j_cuda_emulator_set_delay_us");
}

/* A driver call that must succeed: the test cannot go on without it. */
#define CU(call) cu_ok(#call, (call), __LINE__)

static void cu_ok(const char *what, CUresult rc, int line) {
    if (rc != 0) {
        const char *name = "?";
        cu.error_name(rc, &name);
        fprintf(stderr, "FAIL test_device.c:%d: %s returned %s (%d)\n", line, what, name, rc);
        exit(1);
    }
}

static struct lmcache4j_cuda_emulator_counts counts_now(void) {
    struct lmcache4j_cuda_emulator_counts c = {.struct_size = sizeof c};
    if (cu.counts(&c) != 0) {
        fprintf(stderr, "test_device: lmcache4j_cuda_emulator_counts failed\n");
        exit(2);
    }
    return c;
}

/* The forward pass's compute: a host function on the stream's thread that sleeps. */
static void sleep_ms(void *ms) {
    uintptr_t n = (uintptr_t) ms;
    struct timespec t = {.tv_sec = (time_t) (n / 1000), .tv_nsec = (long) (n % 1000) * 1000000L};
    while (nanosleep(&t, &t) != 0) {
    }
}

/* ---- device caches and their host mirror ---- */

#define LAYERS 2
#define HEAD_SIZE 16
#define BLOCK 16
#define BLOCKS 128
#define SLOTS (BLOCKS * BLOCK)
#define COMPUTE_MS 200
#define DELAY_US 5000

static CUcontext primary; /* device 0's primary context: current on this thread throughout */

typedef struct dev_caches {
    const char *format;
    int heads, planes;
    size_t row, layer_bytes;
    CUdeviceptr dev[LAYERS];
    uint64_t address[LAYERS];
    unsigned char *host[LAYERS]; /* what the caches held at the last read-back or write */
} dev_caches;

static int is(const char *a, const char *b) {
    return strcmp(a, b) == 0;
}

/* Byte offset of slot s's row in plane p. */
static size_t offset(const dev_caches *c, int p, int64_t s) {
    if (is(c->format, "flash_attn")) return ((size_t) p * SLOTS + (size_t) s) * c->row;
    if (is(c->format, "blocks_first")) return ((size_t) (s / BLOCK * 2 + p) * BLOCK + (size_t) (s % BLOCK)) * c->row;
    return (size_t) s * c->row;
}

/* Retains device 1's primary context and makes it current (a retain per allocation there: the
 * context, and the memory it owns, lives as long as it is retained). */
static void push_device_1(void) {
    CUdevice dev1;
    CUcontext ctx;
    CU(cu.device_get(&dev1, 1));
    CU(cu.primary_retain(&ctx, dev1));
    CU(cu.ctx_push(ctx));
}

/* Pops device 1's primary context and releases it `releases` times. */
static void pop_device_1(int releases) {
    CUcontext ctx;
    CU(cu.ctx_pop(&ctx));
    for (int i = 0; i < releases; i++) CU(cu.primary_release(1));
}

/* Caches of `format` in device memory: on device 0, except the layers whose bit is set in on_1. */
static void caches_init(dev_caches *c, const char *format, unsigned seed, unsigned on_1) {
    memset(c, 0, sizeof *c);
    c->format = format;
    c->heads = is(format, "mla") ? 1 : 2;
    c->planes = is(format, "mla") ? 1 : 2;
    c->row = (size_t) c->heads * HEAD_SIZE * 2; /* bfloat16 */
    c->layer_bytes = (size_t) c->planes * SLOTS * c->row;
    for (int l = 0; l < LAYERS; l++) {
        c->host[l] = malloc(c->layer_bytes);
        for (size_t i = 0; i < c->layer_bytes; i++) c->host[l][i] = (unsigned char) (rand_r(&seed) >> 7);
        if (on_1 >> l & 1) push_device_1();
        CU(cu.mem_alloc(&c->dev[l], c->layer_bytes));
        CU(cu.htod(c->dev[l], c->host[l], c->layer_bytes));
        if (on_1 >> l & 1) pop_device_1(0); /* the retain is released with the memory */
        c->address[l] = (uint64_t) c->dev[l];
    }
}

static void caches_free(dev_caches *c, unsigned on_1) {
    for (int l = 0; l < LAYERS; l++) {
        if (on_1 >> l & 1) push_device_1();
        CU(cu.mem_free(c->dev[l]));
        if (on_1 >> l & 1) pop_device_1(2);
        free(c->host[l]);
    }
}

/* The caches' bytes into the mirror, after the work queued on stream (into pageable memory the
 * copy returns once it landed). */
static void read_back(dev_caches *c, CUstream stream) {
    for (int l = 0; l < LAYERS; l++) CU(cu.dtoh_async(c->host[l], c->dev[l], c->layer_bytes, stream));
}

/* The forward pass on stream: compute_ms of compute, then fresh KV at the slots that are not -1. */
static void write_rows(dev_caches *c, const int64_t *slots, int n, unsigned seed, CUstream stream, int compute_ms) {
    read_back(c, stream);
    for (int l = 0; l < LAYERS; l++)
        for (int p = 0; p < c->planes; p++)
            for (int t = 0; t < n; t++)
                if (slots[t] >= 0)
                    for (size_t i = 0; i < c->row; i++) c->host[l][offset(c, p, slots[t]) + i] = (unsigned char) rand_r(&seed);
    if (compute_ms > 0) CU(cu.launch_host_func(stream, sleep_ms, (void *) (uintptr_t) compute_ms));
    for (int l = 0; l < LAYERS; l++) CU(cu.htod_async(c->dev[l], c->host[l], c->layer_bytes, stream)); /* taken at the call */
}

/* A copy of every layer's mirror. */
static unsigned char **snapshot(const dev_caches *c) {
    unsigned char **s = calloc(LAYERS, sizeof *s);
    for (int l = 0; l < LAYERS; l++) {
        s[l] = malloc(c->layer_bytes);
        memcpy(s[l], c->host[l], c->layer_bytes);
    }
    return s;
}

static void snapshot_free(unsigned char **s) {
    for (int l = 0; l < LAYERS; l++) free(s[l]);
    free(s);
}

/* expected[l] := the rows of tokens [from, n) of `source` (at src slots) put at dst slots, where dst is not -1. */
static void put_rows(const dev_caches *c, unsigned char **expected, unsigned char **source, const int64_t *src,
                     const int64_t *dst, int from, int n) {
    for (int l = 0; l < LAYERS; l++)
        for (int p = 0; p < c->planes; p++)
            for (int t = from; t < n; t++)
                if (dst[t] >= 0) memcpy(expected[l] + offset(c, p, dst[t]), source[l] + offset(c, p, src[t]), c->row);
}

static int same(const dev_caches *c, unsigned char **expected) {
    for (int l = 0; l < LAYERS; l++)
        if (memcmp(c->host[l], expected[l], c->layer_bytes) != 0) return 0;
    return 1;
}

/* ---- engines ---- */

static lmcache4j_engine open_engine(const char *format, const char *mode) {
    lmcache4j_layout layout = {sizeof layout, LAYERS, is(format, "mla") ? 1 : 2, HEAD_SIZE, "bfloat16", BLOCK, BLOCKS,
                               format};
    char settings[256];
    snprintf(settings, sizeof settings,
             "{\"chunk_size\": 256, \"max_local_cpu_size\": 0.05, \"extra_config\": {\"cuda_transfer\": \"%s\"}}", mode);
    lmcache4j_options options = {sizeof options, settings, "device-test", 1, 0};
    lmcache4j_engine e = 0;
    EXPECT_OK(lmcache4j_open(NULL, &layout, &options, &e));
    return e;
}

static lmcache4j_engine_stats stats(lmcache4j_engine e) {
    lmcache4j_engine_stats s = {.struct_size = sizeof s};
    EXPECT_OK(lmcache4j_stats(e, &s));
    return s;
}

/* Waits for the device copies, checks no lease or pin is left, closes. */
static void close_engine(lmcache4j_engine e, const char *what) {
    EXPECT_OK(lmcache4j_wait_transfers(e));
    lmcache4j_engine_stats s = stats(e);
    CHECK(s.leases == 0 && s.pins == 0, "%s: leases %llu pins %llu after wait_transfers", what,
          (unsigned long long) s.leases, (unsigned long long) s.pins);
    EXPECT_OK(lmcache4j_close(e));
    EXPECT_STATUS(lmcache4j_wait_transfers(e), LMCACHE4J_ERR_CLOSED, "is closed");
}

static void fill_tokens(int32_t *tokens, int n, unsigned seed) {
    for (int i = 0; i < n; i++) tokens[i] = (int32_t) (rand_r(&seed) % 32000);
}

/* Slots of n tokens over the blocks from first_block on, in a shuffled order (runs of adjacent rows
 * end at every block); disjoint ranges of blocks never share one. */
static void fill_slots(int64_t *slots, int n, int first_block) {
    int blocks = (n + BLOCK - 1) / BLOCK;
    for (int i = 0; i < n; i++) {
        int block = first_block + (i / BLOCK) * 7 % blocks; /* a permutation: 7 is prime to 19, 32 and 38 */
        slots[i] = (int64_t) block * BLOCK + i % BLOCK;
    }
}

static void current_context_unchanged(const char *what) {
    CUcontext now = NULL;
    CU(cu.ctx_get_current(&now));
    CHECK(now == primary, "%s: the engine changed this thread's current context (%p, was %p)", what, now, primary);
}

/*
 * The forward pass computes for COMPUTE_MS on the caller's stream, then writes its KV; the store
 * is called at once and must store the new KV. The retrieve (every stream op taking DELAY_US)
 * goes into other blocks with holes, and the caller's next work on its stream must see it landed.
 */
static void store_retrieve(const char *format, const char *mode, int device, int legacy_stream) {
    char what[128];
    snprintf(what, sizeof what, "%s %s device %d %s", format, mode, device, legacy_stream ? "legacy stream" : "own stream");
    dev_caches c;
    caches_init(&c, format, 7, 0);
    CUstream stream = NULL;
    if (!legacy_stream) CU(cu.stream_create(&stream, 0));
    uint64_t handle = (uint64_t) (uintptr_t) stream;
    lmcache4j_engine e = open_engine(format, mode);
    EXPECT_OK(lmcache4j_register_kv_caches(e, c.address, LAYERS, device));
    uint64_t launches = counts_now().launches;

    enum { N = 600 };
    static int32_t tokens[N];
    static int64_t from[N], to[N];
    fill_tokens(tokens, N, 11);
    fill_slots(from, N, 0);
    fill_slots(to, N, 48);
    for (int t = 300; t < N; t += 7) to[t] = -1; /* a padded request: those rows are neither read nor written */
    write_rows(&c, from, N, 13, stream, COMPUTE_MS);
    unsigned char **written = snapshot(&c);
    int64_t n = -1;
    EXPECT_OK(lmcache4j_store_on_stream(e, NULL, tokens, from, N, 0, handle, &n));
    CHECK(n == N, "%s: stored %lld of %d", what, (long long) n, N);
    current_context_unchanged(what);
    EXPECT_OK(lmcache4j_wait_transfers(e));
    EXPECT_OK(lmcache4j_lookup(e, NULL, tokens, N, NULL, &n));
    CHECK(n == N, "%s: lookup hit %lld after wait_transfers", what, (long long) n);

    read_back(&c, stream);
    unsigned char **expected = snapshot(&c);
    put_rows(&c, expected, written, from, to, 0, N);
    cu.set_delay_us(DELAY_US);
    EXPECT_OK(lmcache4j_retrieve_on_stream(e, NULL, tokens, to, N, 0, handle, &n));
    read_back(&c, stream); /* the caller's next work */
    cu.set_delay_us(0);
    CHECK(n == N, "%s: loaded %lld", what, (long long) n);
    CHECK(same(&c, expected), "%s: the loaded KV differs from the stored KV, or other rows changed", what);

    /* skip_leading 256: only tokens [256, 600) are written. */
    write_rows(&c, to, N, 17, stream, 0);
    read_back(&c, stream);
    snapshot_free(expected);
    expected = snapshot(&c);
    put_rows(&c, expected, written, from, to, 256, N);
    EXPECT_OK(lmcache4j_retrieve_on_stream(e, NULL, tokens, to, N, 256, handle, &n));
    read_back(&c, stream);
    CHECK(n == N - 256, "%s: skip_leading 256 loaded %lld", what, (long long) n);
    CHECK(same(&c, expected), "%s: skip_leading 256 wrote outside tokens [256, 600)", what);

    /* A prompt whose second chunk has a hole stores its first chunk only. */
    int64_t holed[512];
    int32_t other[512];
    fill_tokens(other, 512, 19);
    fill_slots(holed, 512, 96);
    holed[300] = -1;
    write_rows(&c, holed, 512, 23, stream, 0);
    EXPECT_OK(lmcache4j_store_on_stream(e, NULL, other, holed, 512, 0, handle, &n));
    CHECK(n == 256, "%s: stored %lld of a prompt with a hole in its second chunk", what, (long long) n);

    uint64_t launched = counts_now().launches - launches;
    CHECK(is(mode, "kernel") ? launched > 0 : launched == 0, "%s: %llu kernel launches", what, (unsigned long long) launched);
    close_engine(e, what);
    current_context_unchanged(what);
    snapshot_free(expected);
    snapshot_free(written);
    if (stream) CU(cu.stream_destroy(stream));
    caches_free(&c, 0);
}

/* Bad input: a clear status and message naming the value, nothing changed, the engine still usable. */
static void bad_input(void) {
    dev_caches c, mixed, on_1;
    caches_init(&c, "flash_attn", 29, 0);
    caches_init(&mixed, "flash_attn", 31, 2); /* layer 1 on device 1 */
    caches_init(&on_1, "flash_attn", 33, 3);
    CUstream stream, dead;
    CU(cu.stream_create(&stream, 0));
    CU(cu.stream_create(&dead, 0));
    CU(cu.stream_destroy(dead));
    CUcontext own;
    CUstream foreign;
    CUdevice dev0;
    CU(cu.device_get(&dev0, 0));
    CU(cu.ctx_create(&own, 0, dev0)); /* a context of its own on device 0 (made current: popped below) */
    CU(cu.stream_create(&foreign, 0));
    CUcontext popped;
    CU(cu.ctx_pop(&popped));
    current_context_unchanged("cuCtxCreate + pop");

    enum { N = 300 };
    int32_t tokens[N];
    int64_t from[N], to[N], n = -1;
    fill_tokens(tokens, N, 37);
    fill_slots(from, N, 0);
    fill_slots(to, N, 40);
    lmcache4j_engine e = open_engine("flash_attn", "kernel");
    EXPECT_STATUS(lmcache4j_store_on_stream(e, NULL, tokens, from, N, 0, (uint64_t) (uintptr_t) stream, &n),
                  LMCACHE4J_ERR_STATE, "lmcache4j_register_kv_caches");
    char text[256];
    EXPECT_STATUS(lmcache4j_register_kv_caches(e, c.address, LAYERS, 5), LMCACHE4J_ERR_INVALID_ARGUMENT,
                  "CUDA device 5 does not exist: the driver sees 2 device(s)");
    EXPECT_STATUS(lmcache4j_register_kv_caches(e, c.address, LAYERS, 1), LMCACHE4J_ERR_INVALID_ARGUMENT,
                  "the caches were registered for CUDA device 1, but they are memory of CUDA device 0");
    snprintf(text, sizeof text, "registered as host memory (device -1), but layer 0 at 0x%llx is memory of CUDA device 0",
             (unsigned long long) c.address[0]);
    EXPECT_STATUS(lmcache4j_register_kv_caches(e, c.address, LAYERS, LMCACHE4J_DEVICE_HOST),
                  LMCACHE4J_ERR_INVALID_ARGUMENT, text);
    EXPECT_STATUS(lmcache4j_register_kv_caches(e, c.address, LAYERS, -3), LMCACHE4J_ERR_INVALID_ARGUMENT,
                  "device -3 is not a device id");
    EXPECT_STATUS(lmcache4j_register_kv_caches(e, mixed.address, LAYERS, 0), LMCACHE4J_ERR_INVALID_ARGUMENT,
                  "the layer caches are on several CUDA devices [0, 1]");
    EXPECT_STATUS(lmcache4j_register_kv_caches(e, mixed.address, LAYERS, LMCACHE4J_DEVICE_AUTO),
                  LMCACHE4J_ERR_INVALID_ARGUMENT, "on several CUDA devices [0, 1]");
    EXPECT_STATUS(lmcache4j_store_on_stream(e, NULL, tokens, from, N, 0, (uint64_t) (uintptr_t) stream, &n),
                  LMCACHE4J_ERR_STATE, "lmcache4j_register_kv_caches"); /* nothing was registered */

    EXPECT_OK(lmcache4j_register_kv_caches(e, c.address, LAYERS, LMCACHE4J_DEVICE_AUTO));
    read_back(&c, stream);
    unsigned char **untouched = snapshot(&c);
    const struct {
        uint64_t handle;
        const char *why;
    } bad[] = {
        {(uint64_t) (uintptr_t) foreign, "belongs to another CUDA context"},
        {(uint64_t) (uintptr_t) dead, "is not a live stream"},
        {0xdeadbeef0ull, "is not a live stream"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        snprintf(text, sizeof text, "CUDA stream 0x%llx %s", (unsigned long long) bad[i].handle, bad[i].why);
        n = -7;
        EXPECT_STATUS(lmcache4j_store_on_stream(e, NULL, tokens, from, N, 0, bad[i].handle, &n),
                      LMCACHE4J_ERR_INVALID_ARGUMENT, text);
        EXPECT_STATUS(lmcache4j_retrieve_on_stream(e, NULL, tokens, to, N, 0, bad[i].handle, &n),
                      LMCACHE4J_ERR_INVALID_ARGUMENT, text);
        CHECK(n == -7, "a failed call wrote its output (%lld)", (long long) n);
    }
    EXPECT_OK(lmcache4j_wait_transfers(e));
    lmcache4j_engine_stats s = stats(e);
    CHECK(s.chunks == 0 && s.stored_tokens == 0 && s.retrieved_tokens == 0 && s.leases == 0,
          "refused calls changed the engine: chunks %llu stored %llu retrieved %llu leases %llu",
          (unsigned long long) s.chunks, (unsigned long long) s.stored_tokens, (unsigned long long) s.retrieved_tokens,
          (unsigned long long) s.leases);
    read_back(&c, stream);
    CHECK(same(&c, untouched), "a refused retrieve wrote into the caches");

    /* Still usable, on the caches' own stream. */
    uint64_t handle = (uint64_t) (uintptr_t) stream;
    write_rows(&c, from, N, 41, stream, COMPUTE_MS);
    unsigned char **written = snapshot(&c);
    EXPECT_OK(lmcache4j_store_on_stream(e, NULL, tokens, from, N, 0, handle, &n));
    CHECK(n == N, "stored %lld after bad input", (long long) n);
    EXPECT_OK(lmcache4j_wait_transfers(e));
    read_back(&c, stream);
    unsigned char **expected = snapshot(&c);
    put_rows(&c, expected, written, from, to, 0, N);
    EXPECT_OK(lmcache4j_retrieve_on_stream(e, NULL, tokens, to, N, 0, handle, &n));
    read_back(&c, stream);
    CHECK(n == N && same(&c, expected), "after bad input: loaded %lld, bytes %s", (long long) n,
          same(&c, expected) ? "equal" : "differ");
    /* Another device's caches cannot join an engine whose pool is page-locked for device 0. */
    EXPECT_STATUS(lmcache4j_register_kv_caches(e, on_1.address, LAYERS, 1), LMCACHE4J_ERR_INVALID_ARGUMENT,
                  "page-locked for CUDA device 0: caches on device 1 need an engine of their own");
    EXPECT_STATUS(lmcache4j_register_kv_caches(e, on_1.address, LAYERS, 0), LMCACHE4J_ERR_INVALID_ARGUMENT,
                  "registered for CUDA device 0, but they are memory of CUDA device 1");
    close_engine(e, "bad input");
    snapshot_free(untouched);
    snapshot_free(written);
    snapshot_free(expected);

    CU(cu.ctx_push(own));
    CU(cu.stream_destroy(foreign));
    CU(cu.ctx_pop(&popped));
    CU(cu.ctx_destroy(own));
    CU(cu.stream_destroy(stream));
    caches_free(&on_1, 3);
    caches_free(&mixed, 2);
    caches_free(&c, 0);
    current_context_unchanged("bad input");
}

/* Host caches keep working with a driver present: -1 and AUTO register them, streams are refused. */
static void host_caches_with_a_driver(void) {
    enum { BYTES = 2 * SLOTS * 2 * HEAD_SIZE * 2 };
    uint64_t address[LAYERS];
    unsigned char *layer[LAYERS];
    unsigned seed = 43;
    for (int l = 0; l < LAYERS; l++) {
        layer[l] = malloc(BYTES);
        for (size_t i = 0; i < BYTES; i++) layer[l][i] = (unsigned char) rand_r(&seed);
        address[l] = (uint64_t) (uintptr_t) layer[l];
    }
    int32_t tokens[300];
    int64_t slots[300], n = -1;
    fill_tokens(tokens, 300, 47);
    fill_slots(slots, 300, 0);
    lmcache4j_engine e = open_engine("flash_attn", "kernel");
    char text[160];
    snprintf(text, sizeof text, "registered for CUDA device 0, but they are host memory (layer 0 at 0x%llx)",
             (unsigned long long) address[0]);
    EXPECT_STATUS(lmcache4j_register_kv_caches(e, address, LAYERS, 0), LMCACHE4J_ERR_INVALID_ARGUMENT, text);
    EXPECT_OK(lmcache4j_register_kv_caches(e, address, LAYERS, LMCACHE4J_DEVICE_AUTO));
    EXPECT_OK(lmcache4j_register_kv_caches(e, address, LAYERS, LMCACHE4J_DEVICE_HOST));
    EXPECT_STATUS(lmcache4j_store_on_stream(e, NULL, tokens, slots, 300, 0, 0x5000, &n), LMCACHE4J_ERR_INVALID_ARGUMENT,
                  "CUDA stream 0x5000 was given, but the KV caches are host memory");
    EXPECT_OK(lmcache4j_store_on_stream(e, NULL, tokens, slots, 300, 0, 0, &n));
    CHECK(n == 300, "host caches: stored %lld", (long long) n);
    EXPECT_OK(lmcache4j_retrieve(e, NULL, tokens, slots, 300, 0, &n));
    CHECK(n == 300, "host caches: loaded %lld", (long long) n);
    close_engine(e, "host caches");
    for (int l = 0; l < LAYERS; l++) free(layer[l]);
}

static int counts_equal(const struct lmcache4j_cuda_emulator_counts *a, const struct lmcache4j_cuda_emulator_counts *b) {
    return a->contexts == b->contexts && a->primary_retains == b->primary_retains
           && a->device_allocations == b->device_allocations && a->device_bytes == b->device_bytes
           && a->streams == b->streams && a->events == b->events && a->modules == b->modules
           && a->host_registrations == b->host_registrations && a->host_allocations == b->host_allocations
           && a->faults == b->faults && a->reclaimed_at_context_destroy == b->reclaimed_at_context_destroy;
}

static void print_counts(const char *label, const struct lmcache4j_cuda_emulator_counts *c) {
    fprintf(stderr,
            "  %s: contexts %llu primary_retains %llu device_allocations %llu device_bytes %llu streams %llu events %llu "
            "modules %llu host_registrations %llu host_allocations %llu faults %llu reclaimed %llu\n",
            label, (unsigned long long) c->contexts, (unsigned long long) c->primary_retains,
            (unsigned long long) c->device_allocations, (unsigned long long) c->device_bytes,
            (unsigned long long) c->streams, (unsigned long long) c->events, (unsigned long long) c->modules,
            (unsigned long long) c->host_registrations, (unsigned long long) c->host_allocations,
            (unsigned long long) c->faults, (unsigned long long) c->reclaimed_at_context_destroy);
}

int main(void) {
    const char *driver = getenv("LMCACHE4J_CUDA_DRIVER"), *fatbin = getenv("LMCACHE4J_CUDA_FATBIN");
    if (driver == NULL || driver[0] != '/' || fatbin == NULL || fatbin[0] != '/') {
        fprintf(stderr, "test_device: set LMCACHE4J_CUDA_DRIVER and LMCACHE4J_CUDA_FATBIN to absolute paths "
                        "(make -C native device-test does)\n");
        return 2;
    }
    load_driver(driver);
    struct lmcache4j_cuda_emulator_counts start = counts_now();
    CU(cu.init(0));
    int devices = 0;
    CU(cu.device_count(&devices));
    if (devices != 2) {
        fprintf(stderr, "test_device: the emulator has %d device(s); run with LMCACHE4J_CUDA_EMULATOR_DEVICES=2\n", devices);
        return 2;
    }
    CUdevice dev0;
    CU(cu.device_get(&dev0, 0));
    CU(cu.primary_retain(&primary, dev0));
    CU(cu.ctx_push(primary)); /* as torch leaves it */

    const char *formats[] = {"flash_attn", "blocks_first", "mla"};
    for (int f = 0; f < 3; f++) {
        store_retrieve(formats[f], "kernel", 0, 0);
        store_retrieve(formats[f], "dma", LMCACHE4J_DEVICE_AUTO, 0);
    }
    store_retrieve("flash_attn", "kernel", LMCACHE4J_DEVICE_AUTO, 1);
    store_retrieve("blocks_first", "dma", 0, 1);
    bad_input();
    host_caches_with_a_driver();

    CUcontext popped;
    CU(cu.ctx_pop(&popped));
    CU(cu.primary_release(dev0));
    struct lmcache4j_cuda_emulator_counts end = counts_now();
    CHECK(counts_equal(&start, &end), "the emulator's live resources differ from the start (below)");
    if (!counts_equal(&start, &end)) {
        print_counts("start", &start);
        print_counts("end", &end);
    }
    printf("test_device: %d checks, %d failed (%llu kernel launches, %llu copies)\n", check_count, check_failures,
           (unsigned long long) end.launches, (unsigned long long) end.copies);
    return check_failures ? 1 : 0;
}
