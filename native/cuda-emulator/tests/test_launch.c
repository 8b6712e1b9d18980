/*
 * Launches of kv_gather and kv_scatter from the real fatbin, with the arguments packed as JCuda
 * packs them (void*[4]: a 40-byte kv_shape and three u64 device addresses), checked byte for byte
 * against kv_host.c's kv_host_copy for each paged format; then launch validation, and a fault: a
 * page that is unregistered host memory, the sticky CUDA_ERROR_ILLEGAL_ADDRESS it leaves, and the
 * primary context reset that clears it.
 */
#include "../cuda/kv_index.h"
#include "emu_test.h"

int kv_host_copy(const kv_shape *s, const uint64_t *layer_caches, const int64_t *slots, char *page, int to_page);

#define LAYERS 3
#define BLOCK_SIZE 4
#define BLOCKS 8
#define TOKENS 10

static CUmodule module;
static CUfunction gather, scatter;

typedef struct setup {
    kv_shape shape;
    size_t cache_bytes, page_bytes;
    CUdeviceptr caches[LAYERS], d_layers, d_slots;
    unsigned char *host_caches[LAYERS];
    uint64_t host_layers[LAYERS];
    int64_t slots[TOKENS];
    unsigned char *page, *ref;
} setup;

static void make_setup(setup *s, int format, int64_t row_bytes) {
    memset(s, 0, sizeof *s);
    int planes = format == KV_MLA ? 1 : 2;
    s->shape = (kv_shape){.format = format, .planes = planes, .layers = LAYERS, .block_size = BLOCK_SIZE,
                          .num_slots = BLOCKS * BLOCK_SIZE, .row_bytes = row_bytes, .tokens = TOKENS};
    s->cache_bytes = (size_t) (planes * BLOCKS * BLOCK_SIZE * row_bytes);
    s->page_bytes = (size_t) (planes * LAYERS * TOKENS * row_bytes);
    for (int t = 0; t < TOKENS; t++) {
        s->slots[t] = t == 2 || t == 7 ? -1 : (t * 7 + 3) % (BLOCKS * BLOCK_SIZE);
    }
    for (int l = 0; l < LAYERS; l++) {
        s->host_caches[l] = malloc(s->cache_bytes);
        for (size_t i = 0; i < s->cache_bytes; i++) {
            s->host_caches[l][i] = (unsigned char) (i * 13 + l * 101 + format);
        }
        s->host_layers[l] = (uint64_t) (uintptr_t) s->host_caches[l];
        OK(cuMemAlloc_v2(&s->caches[l], s->cache_bytes));
        OK(cuMemcpyHtoD_v2(s->caches[l], s->host_caches[l], s->cache_bytes));
    }
    OK(cuMemAlloc_v2(&s->d_layers, sizeof s->caches));
    OK(cuMemcpyHtoD_v2(s->d_layers, s->caches, sizeof s->caches));
    OK(cuMemAlloc_v2(&s->d_slots, sizeof s->slots));
    OK(cuMemcpyHtoD_v2(s->d_slots, s->slots, sizeof s->slots));
    s->page = host_pages(s->page_bytes);
    s->ref = malloc(s->page_bytes);
    OK(cuMemHostRegister_v2(s->page, s->page_bytes, CU_MEMHOSTREGISTER_PORTABLE | CU_MEMHOSTREGISTER_DEVICEMAP));
}

static void free_setup(setup *s) {
    for (int l = 0; l < LAYERS; l++) {
        OK(cuMemFree_v2(s->caches[l]));
        free(s->host_caches[l]);
    }
    OK(cuMemFree_v2(s->d_layers));
    OK(cuMemFree_v2(s->d_slots));
    OK(cuMemHostUnregister(s->page));
    free(s->page);
    free(s->ref);
}

/* As CudaKvTransfer launches: grid (T, layers * planes), 128 threads, params through kernelParams. */
static CUresult launch(CUfunction f, setup *s, CUdeviceptr page, CUstream stream) {
    unsigned char shape_copy[40]; /* JCuda passes a pointer to its own copy of the 40 bytes */
    memcpy(shape_copy, &s->shape, sizeof shape_copy);
    void *params[4] = {shape_copy, &s->d_layers, &s->d_slots, &page};
    return cuLaunchKernel(f, TOKENS, (unsigned) (LAYERS * s->shape.planes), 1, 128, 1, 1, 0, stream, params, NULL);
}

static void gather_and_scatter(int format, int64_t row_bytes, int use_extra) {
    setup s;
    make_setup(&s, format, row_bytes);
    CUstream stream;
    OK(cuStreamCreate(&stream, CU_STREAM_NON_BLOCKING));
    memset(s.page, 0xee, s.page_bytes);
    memset(s.ref, 0xee, s.page_bytes);
    CUdeviceptr page = (CUdeviceptr) (uintptr_t) s.page;
    uint64_t launches = emu_counts().launches;
    if (use_extra) {
        unsigned char buf[64];
        memcpy(buf, &s.shape, 40);
        memcpy(buf + 40, &s.d_layers, 8);
        memcpy(buf + 48, &s.d_slots, 8);
        memcpy(buf + 56, &page, 8);
        size_t size = sizeof buf;
        void *extra[] = {CU_LAUNCH_PARAM_BUFFER_POINTER, buf, CU_LAUNCH_PARAM_BUFFER_SIZE, &size, CU_LAUNCH_PARAM_END};
        OK(cuLaunchKernel(gather, TOKENS, (unsigned) (LAYERS * s.shape.planes), 1, 128, 1, 1, 0, stream, NULL, extra));
        size = 56;
        EXPECT_CU(cuLaunchKernel(gather, TOKENS, 1, 1, 128, 1, 1, 0, stream, NULL, extra), CUDA_ERROR_INVALID_VALUE);
    } else {
        OK(launch(gather, &s, page, stream));
    }
    OK(cuStreamSynchronize(stream));
    CHECK(emu_counts().launches == launches + 1, "launch not counted");
    CHECK(kv_host_copy(&s.shape, s.host_layers, s.slots, (char *) s.ref, 1) == 0, "kv_host_copy gather failed");
    CHECK(memcmp(s.page, s.ref, s.page_bytes) == 0, "format %d row %lld: gathered page differs from kv_host_copy",
          format, (long long) row_bytes);
    for (size_t i = 0; i < s.page_bytes; i++) {
        s.page[i] = s.ref[i] = (unsigned char) (i * 29 + 5);
    }
    OK(launch(scatter, &s, page, stream));
    OK(cuStreamSynchronize(stream));
    CHECK(kv_host_copy(&s.shape, s.host_layers, s.slots, (char *) s.ref, 0) == 0, "kv_host_copy scatter failed");
    unsigned char *back = malloc(s.cache_bytes);
    for (int l = 0; l < LAYERS; l++) {
        OK(cuMemcpyDtoH_v2(back, s.caches[l], s.cache_bytes));
        CHECK(memcmp(back, s.host_caches[l], s.cache_bytes) == 0, "format %d row %lld: layer %d after scatter differs",
              format, (long long) row_bytes, l);
    }
    free(back);
    OK(cuStreamDestroy_v2(stream));
    free_setup(&s);
}

static void validation(void) {
    setup s;
    make_setup(&s, KV_FLASH_ATTN, 64);
    CUdeviceptr page = (CUdeviceptr) (uintptr_t) s.page;
    void *params[4] = {&s.shape, &s.d_layers, &s.d_slots, &page};
    void *extra[] = {CU_LAUNCH_PARAM_END};
    EXPECT_CU(cuLaunchKernel(gather, 0, 1, 1, 128, 1, 1, 0, NULL, params, NULL), CUDA_ERROR_INVALID_VALUE);
    EXPECT_CU(cuLaunchKernel(gather, 1, 65536, 1, 128, 1, 1, 0, NULL, params, NULL), CUDA_ERROR_INVALID_VALUE);
    EXPECT_CU(cuLaunchKernel(gather, 1, 1, 1, 1025, 1, 1, 0, NULL, params, NULL), CUDA_ERROR_INVALID_VALUE);
    EXPECT_CU(cuLaunchKernel(gather, 1, 1, 1, 512, 4, 1, 0, NULL, params, NULL), CUDA_ERROR_INVALID_VALUE);
    EXPECT_CU(cuLaunchKernel(gather, 1, 1, 1, 128, 1, 1, 1 << 20, NULL, params, NULL), CUDA_ERROR_INVALID_VALUE);
    EXPECT_CU(cuLaunchKernel(gather, 1, 1, 1, 128, 1, 1, 0, NULL, NULL, NULL), CUDA_ERROR_INVALID_VALUE);
    EXPECT_CU(cuLaunchKernel(gather, 1, 1, 1, 128, 1, 1, 0, NULL, params, extra), CUDA_ERROR_INVALID_VALUE);
    EXPECT_CU(cuLaunchKernel((CUfunction) 0x77, 1, 1, 1, 128, 1, 1, 0, NULL, params, NULL), CUDA_ERROR_INVALID_HANDLE);
    EXPECT_CU(cuLaunchKernel(gather, 1, 1, 1, 128, 1, 1, 0, (CUstream) 0x77, params, NULL), CUDA_ERROR_INVALID_HANDLE);
    /* a stream, and a function, of another context */
    CUcontext primary, other;
    CUstream foreign;
    CUmodule other_module;
    CUfunction other_gather;
    OK(cuCtxGetCurrent(&primary));
    OK(cuCtxCreate_v2(&other, 0, 0));
    OK(cuStreamCreate(&foreign, 0));
    size_t n;
    unsigned char *fatbin = read_file(getenv("LMCACHE4J_TEST_FATBIN"), &n);
    OK(cuModuleLoadData(&other_module, fatbin));
    free(fatbin);
    OK(cuModuleGetFunction(&other_gather, other_module, "kv_gather"));
    OK(cuCtxSetCurrent(primary));
    EXPECT_CU(launch(gather, &s, page, foreign), CUDA_ERROR_INVALID_HANDLE);
    EXPECT_CU(launch(other_gather, &s, page, NULL), CUDA_ERROR_INVALID_HANDLE);
    OK(cuStreamDestroy_v2(foreign));
    OK(cuModuleUnload(other_module)); /* a module of another context may be unloaded from here */
    OK(cuCtxDestroy_v2(other));
    OK(launch(gather, &s, page, NULL));
    OK(cuCtxSynchronize());
    free_setup(&s);
}

/*
 * The page is plain malloc'd memory, never registered: the kernel faults at its first row, the
 * stream's synchronisation and every later call in the context return CUDA_ERROR_ILLEGAL_ADDRESS,
 * until the primary context is reset.
 */
static void unregistered_page_faults(void) {
    setup s;
    make_setup(&s, KV_BLOCKS_FIRST, 64);
    unsigned char *plain = malloc(s.page_bytes);
    CUstream stream;
    CUdeviceptr p;
    OK(cuStreamCreate(&stream, CU_STREAM_NON_BLOCKING));
    uint64_t faults = emu_counts().faults, reclaimed = emu_counts().reclaimed_at_context_destroy;
    OK(launch(gather, &s, (CUdeviceptr) (uintptr_t) plain, stream)); /* a launch error is asynchronous */
    EXPECT_CU(cuStreamSynchronize(stream), CUDA_ERROR_ILLEGAL_ADDRESS);
    CHECK(emu_counts().faults == faults + 1, "fault not counted");
    const char *why = lmcache4j_cuda_emulator_last_fault();
    CHECK(strstr(why, "kv_gather") && strstr(why, "block (0,0,0)") && strstr(why, "not registered with cuMemHostRegister"),
          "last fault: '%s'", why);
    EXPECT_CU(cuMemAlloc_v2(&p, 64), CUDA_ERROR_ILLEGAL_ADDRESS);
    EXPECT_CU(cuCtxSynchronize(), CUDA_ERROR_ILLEGAL_ADDRESS);
    EXPECT_CU(launch(gather, &s, (CUdeviceptr) (uintptr_t) s.page, stream), CUDA_ERROR_ILLEGAL_ADDRESS);
    EXPECT_CU(cuMemcpyHtoD_v2(s.d_slots, s.slots, 8), CUDA_ERROR_ILLEGAL_ADDRESS);
    EXPECT_CU(cuStreamQuery(stream), CUDA_ERROR_ILLEGAL_ADDRESS);
    OK(cuDevicePrimaryCtxReset_v2(0));
    /* everything the context owned is gone: module, stream, 5 allocations, the registration */
    CHECK(emu_counts().reclaimed_at_context_destroy == reclaimed + 8, "reclaimed %llu",
          (unsigned long long) (emu_counts().reclaimed_at_context_destroy - reclaimed));
    OK(cuMemAlloc_v2(&p, 64));
    OK(cuMemFree_v2(p));
    EXPECT_CU(cuStreamSynchronize(stream), CUDA_ERROR_INVALID_HANDLE);
    for (int l = 0; l < LAYERS; l++) {
        free(s.host_caches[l]);
    }
    free(s.page);
    free(s.ref);
    free(plain);
}

/* A layer cache freed before the launch: device memory that is not allocated, a fault too. */
static void freed_cache_faults(void) {
    setup s;
    make_setup(&s, KV_MLA, 64);
    OK(cuMemFree_v2(s.caches[1]));
    OK(launch(scatter, &s, (CUdeviceptr) (uintptr_t) s.page, NULL));
    EXPECT_CU(cuCtxSynchronize(), CUDA_ERROR_ILLEGAL_ADDRESS);
    CHECK(strstr(lmcache4j_cuda_emulator_last_fault(), "device memory that is not allocated") != NULL,
          "last fault: '%s'", lmcache4j_cuda_emulator_last_fault());
    OK(cuDevicePrimaryCtxReset_v2(0));
    for (int l = 0; l < LAYERS; l++) {
        free(s.host_caches[l]);
    }
    free(s.page);
    free(s.ref);
}

static void load(void) {
    size_t n;
    unsigned char *fatbin = read_file(getenv("LMCACHE4J_TEST_FATBIN"), &n);
    CHECK(fatbin != NULL, "no fatbin at LMCACHE4J_TEST_FATBIN (make cuda)");
    OK(cuModuleLoadData(&module, fatbin)); /* JCuda passes the file's bytes */
    OK(cuModuleGetFunction(&gather, module, "kv_gather"));
    OK(cuModuleGetFunction(&scatter, module, "kv_scatter"));
    free(fatbin);
}

int main(void) {
    init_primary();
    load();
    for (int format = KV_FLASH_ATTN; format <= KV_MLA; format++) {
        gather_and_scatter(format, 64, 0);
        gather_and_scatter(format, 24, 0); /* rows that are not a multiple of 16: the byte path */
    }
    gather_and_scatter(KV_FLASH_ATTN, 128, 1);
    lmcache4j_cuda_emulator_set_delay_us(5000);
    gather_and_scatter(KV_BLOCKS_FIRST, 64, 0);
    lmcache4j_cuda_emulator_set_delay_us(0);
    validation();
    unregistered_page_faults();
    load();
    freed_cache_faults();
    release_primary();
    expect_nothing_live();
    return test_summary("test_launch");
}
