/*
 * Launches of kv_gather_chunks and kv_scatter_chunks from the real fatbin, with the arguments packed as JCuda
 * packs them (void*[4]: a 40-byte kv_shape and three u64 device addresses: layer_caches, the
 * request's slots and its kv_chunk table), checked byte for byte against kv_host.c's kv_host_copy
 * of each chunk alone, for each paged format: one chunk per launch, then several chunks of
 * different sizes and pages in one launch. Then launch validation, and faults: a page that is
 * unregistered host memory, the sticky CUDA_ERROR_ILLEGAL_ADDRESS it leaves and the primary
 * context reset that clears it; a freed cache; a chunk table in unregistered memory, or
 * misaligned; a chunk with more tokens than grid x, or a negative from.
 */
#include "../cuda/kv_index.h"
#include "emu_test.h"

int kv_host_copy(const kv_shape *s, const uint64_t *layer_caches, const int64_t *slots, char *page, int to_page);

#define LAYERS 3
#define BLOCK_SIZE 4
#define BLOCKS 16
#define TOKENS 10

static CUmodule module;
static CUfunction gather, scatter;

typedef struct setup {
    kv_shape shape;
    size_t cache_bytes, page_bytes;
    CUdeviceptr caches[LAYERS], d_layers, d_slots, d_chunks; /* d_chunks: {page, 0, TOKENS} */
    unsigned char *host_caches[LAYERS];
    uint64_t host_layers[LAYERS];
    int64_t slots[TOKENS];
    unsigned char *page, *ref;
} setup;

/* A chunk table of n entries in device memory. */
static CUdeviceptr chunk_table(const kv_chunk *chunks, unsigned n) {
    CUdeviceptr d = 0;
    OK(cuMemAlloc_v2(&d, n * sizeof *chunks));
    OK(cuMemcpyHtoD_v2(d, chunks, n * sizeof *chunks));
    return d;
}

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
    s->d_chunks = chunk_table(&(kv_chunk){.page = (uint64_t) (uintptr_t) s->page, .from = 0, .tokens = TOKENS}, 1);
}

/* The host side only: after a primary context reset, which reclaimed everything else. */
static void free_host_side(setup *s) {
    for (int l = 0; l < LAYERS; l++) {
        free(s->host_caches[l]);
    }
    free(s->page);
    free(s->ref);
}

static void free_setup(setup *s) {
    for (int l = 0; l < LAYERS; l++) {
        OK(cuMemFree_v2(s->caches[l]));
    }
    OK(cuMemFree_v2(s->d_layers));
    OK(cuMemFree_v2(s->d_slots));
    OK(cuMemFree_v2(s->d_chunks));
    OK(cuMemHostUnregister(s->page));
    free_host_side(s);
}

/*
 * As CudaKvTransfer launches: grid (largest chunk's tokens, layers * planes, chunks), 128
 * threads, params through kernelParams; s->shape.tokens is grid x.
 */
static CUresult launch_chunks(CUfunction f, setup *s, unsigned tokens, CUdeviceptr chunks, unsigned n, CUstream stream) {
    unsigned char shape_copy[40]; /* JCuda passes a pointer to its own copy of the 40 bytes */
    kv_shape shape = s->shape;
    shape.tokens = (int32_t) tokens;
    memcpy(shape_copy, &shape, sizeof shape_copy);
    void *params[4] = {shape_copy, &s->d_layers, &s->d_slots, &chunks};
    return cuLaunchKernel(f, tokens, (unsigned) (LAYERS * s->shape.planes), n, 128, 1, 1, 0, stream, params, NULL);
}

/* The setup's one chunk {page, 0, TOKENS}. */
static CUresult launch(CUfunction f, setup *s, CUstream stream) {
    return launch_chunks(f, s, TOKENS, s->d_chunks, 1, stream);
}

static void gather_and_scatter(int format, int64_t row_bytes, int use_extra) {
    setup s;
    make_setup(&s, format, row_bytes);
    CUstream stream;
    OK(cuStreamCreate(&stream, CU_STREAM_NON_BLOCKING));
    memset(s.page, 0xee, s.page_bytes);
    memset(s.ref, 0xee, s.page_bytes);
    uint64_t launches = emu_counts().launches;
    if (use_extra) {
        unsigned char buf[64];
        memcpy(buf, &s.shape, 40);
        memcpy(buf + 40, &s.d_layers, 8);
        memcpy(buf + 48, &s.d_slots, 8);
        memcpy(buf + 56, &s.d_chunks, 8);
        size_t size = sizeof buf;
        void *extra[] = {CU_LAUNCH_PARAM_BUFFER_POINTER, buf, CU_LAUNCH_PARAM_BUFFER_SIZE, &size, CU_LAUNCH_PARAM_END};
        OK(cuLaunchKernel(gather, TOKENS, (unsigned) (LAYERS * s.shape.planes), 1, 128, 1, 1, 0, stream, NULL, extra));
        size = 56;
        EXPECT_CU(cuLaunchKernel(gather, TOKENS, 1, 1, 128, 1, 1, 0, stream, NULL, extra), CUDA_ERROR_INVALID_VALUE);
    } else {
        OK(launch(gather, &s, stream));
    }
    OK(cuStreamSynchronize(stream));
    CHECK(emu_counts().launches == launches + 1, "launch not counted");
    CHECK(kv_host_copy(&s.shape, s.host_layers, s.slots, (char *) s.ref, 1) == 0, "kv_host_copy gather failed");
    CHECK(memcmp(s.page, s.ref, s.page_bytes) == 0, "format %d row %lld: gathered page differs from kv_host_copy",
          format, (long long) row_bytes);
    for (size_t i = 0; i < s.page_bytes; i++) {
        s.page[i] = s.ref[i] = (unsigned char) (i * 29 + 5);
    }
    OK(launch(scatter, &s, stream));
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

/*
 * One request of REQUEST tokens in four chunks of at most CHUNK, one launch each way. The table
 * is not in token order (z = 1 is the request's last, partial chunk), so a kernel that took a
 * chunk's slots from z * grid x would be caught; each page lives in a different kind of memory.
 * Every page buffer is CHUNK tokens long: what a partial chunk does not use must stay untouched.
 */
#define CHUNK 8
#define REQUEST 29
#define NCHUNKS 4
static const struct { int32_t from, tokens; const char *where; } request_chunks[NCHUNKS] = {
    {0, CHUNK, "a full chunk, pool page 0 (registered host memory)"},
    {3 * CHUNK, REQUEST - 3 * CHUNK, "the partial last chunk, pool page 1"},
    {CHUNK, CHUNK, "a chunk with -1 slots, page in cuMemAllocHost memory"},
    {2 * CHUNK, CHUNK, "a full chunk, page in device memory"},
};

typedef struct batch {
    setup s;                       /* its caches and layer table; its slots are replaced by the request's */
    int64_t slots[REQUEST];
    size_t page_bytes;             /* a full chunk's page */
    unsigned char *pool, *pinned;  /* pool: 2 pages, registered; pinned: cuMemAllocHost */
    CUdeviceptr d_page;
    uint64_t page_addr[NCHUNKS];
    unsigned char *ref[NCHUNKS];
    kv_chunk *table;               /* cuMemAllocHost, or device memory at d_table */
    CUdeviceptr d_table;
} batch;

static void page_read(batch *b, int z, unsigned char *out) {
    if (z == 3) {
        OK(cuMemcpyDtoH_v2(out, b->d_page, b->page_bytes));
    } else {
        memcpy(out, (const void *) (uintptr_t) b->page_addr[z], b->page_bytes);
    }
}

static void page_write(batch *b, int z, const unsigned char *in) {
    if (z == 3) {
        OK(cuMemcpyHtoD_v2(b->d_page, in, b->page_bytes));
    } else {
        memcpy((void *) (uintptr_t) b->page_addr[z], in, b->page_bytes);
    }
}

static void make_batch(batch *b, int format, int64_t row_bytes, int table_in_device) {
    make_setup(&b->s, format, row_bytes);
    OK(cuMemFree_v2(b->s.d_slots));
    for (int t = 0; t < REQUEST; t++) {
        b->slots[t] = t == 9 || t == 12 || t == 13 ? -1 : (t * 7 + 3) % (BLOCKS * BLOCK_SIZE);
    }
    OK(cuMemAlloc_v2(&b->s.d_slots, sizeof b->slots));
    OK(cuMemcpyHtoD_v2(b->s.d_slots, b->slots, sizeof b->slots));
    b->page_bytes = (size_t) (b->s.shape.planes * LAYERS * CHUNK * row_bytes);
    b->pool = host_pages(2 * b->page_bytes);
    OK(cuMemHostRegister_v2(b->pool, 2 * b->page_bytes, CU_MEMHOSTREGISTER_DEVICEMAP));
    OK(cuMemAllocHost_v2((void **) &b->pinned, b->page_bytes));
    OK(cuMemAlloc_v2(&b->d_page, b->page_bytes));
    b->page_addr[0] = (uint64_t) (uintptr_t) b->pool;
    b->page_addr[1] = (uint64_t) (uintptr_t) (b->pool + b->page_bytes);
    b->page_addr[2] = (uint64_t) (uintptr_t) b->pinned;
    b->page_addr[3] = b->d_page;
    kv_chunk table[NCHUNKS];
    for (int z = 0; z < NCHUNKS; z++) {
        table[z] = (kv_chunk){.page = b->page_addr[z], .from = request_chunks[z].from, .tokens = request_chunks[z].tokens};
        b->ref[z] = malloc(b->page_bytes);
    }
    b->table = NULL;
    b->d_table = 0;
    if (table_in_device) {
        b->d_table = chunk_table(table, NCHUNKS);
    } else {
        OK(cuMemAllocHost_v2((void **) &b->table, sizeof table));
        memcpy(b->table, table, sizeof table);
    }
}

static void free_batch(batch *b) {
    for (int z = 0; z < NCHUNKS; z++) {
        free(b->ref[z]);
    }
    if (b->d_table != 0) {
        OK(cuMemFree_v2(b->d_table));
    } else {
        OK(cuMemFreeHost(b->table));
    }
    OK(cuMemFree_v2(b->d_page));
    OK(cuMemFreeHost(b->pinned));
    OK(cuMemHostUnregister(b->pool));
    free(b->pool);
    free_setup(&b->s);
}

/* kv_host_copy of chunk z alone: its own T, its run of the request's slots, its reference page. */
static int host_copy_chunk(batch *b, int z, int to_page) {
    kv_shape shape = b->s.shape;
    shape.tokens = request_chunks[z].tokens;
    return kv_host_copy(&shape, b->s.host_layers, b->slots + request_chunks[z].from, (char *) b->ref[z], to_page);
}

static void batched_gather_and_scatter(int format, int64_t row_bytes, int table_in_device) {
    batch b;
    make_batch(&b, format, row_bytes, table_in_device);
    CUdeviceptr table = table_in_device ? b.d_table : (CUdeviceptr) (uintptr_t) b.table;
    CUstream stream;
    OK(cuStreamCreate(&stream, CU_STREAM_NON_BLOCKING));
    unsigned char *got = malloc(b.page_bytes);
    for (int z = 0; z < NCHUNKS; z++) {
        memset(b.ref[z], 0xee, b.page_bytes);
        page_write(&b, z, b.ref[z]);
    }
    uint64_t launches = emu_counts().launches;
    OK(launch_chunks(gather, &b.s, CHUNK, table, NCHUNKS, stream));
    OK(cuStreamSynchronize(stream));
    CHECK(emu_counts().launches == launches + 1, "one launch for %d chunks", NCHUNKS);
    for (int z = 0; z < NCHUNKS; z++) {
        CHECK(host_copy_chunk(&b, z, 1) == 0, "kv_host_copy gather of chunk %d failed", z);
        page_read(&b, z, got);
        CHECK(memcmp(got, b.ref[z], b.page_bytes) == 0, "format %d row %lld table in %s: chunk %d (%s): gathered "
              "page differs from kv_host_copy of the chunk alone", format, (long long) row_bytes,
              table_in_device ? "device memory" : "pinned memory", z, request_chunks[z].where);
    }
    for (int z = 0; z < NCHUNKS; z++) {
        for (size_t i = 0; i < b.page_bytes; i++) {
            b.ref[z][i] = (unsigned char) (i * 29 + 5 + z * 71);
        }
        page_write(&b, z, b.ref[z]);
    }
    OK(launch_chunks(scatter, &b.s, CHUNK, table, NCHUNKS, stream));
    OK(cuStreamSynchronize(stream));
    for (int z = 0; z < NCHUNKS; z++) {
        CHECK(host_copy_chunk(&b, z, 0) == 0, "kv_host_copy scatter of chunk %d failed", z);
    }
    unsigned char *back = malloc(b.s.cache_bytes);
    for (int l = 0; l < LAYERS; l++) {
        OK(cuMemcpyDtoH_v2(back, b.s.caches[l], b.s.cache_bytes));
        CHECK(memcmp(back, b.s.host_caches[l], b.s.cache_bytes) == 0, "format %d row %lld table in %s: layer %d "
              "after scattering %d chunks differs from kv_host_copy of each chunk alone", format,
              (long long) row_bytes, table_in_device ? "device memory" : "pinned memory", l, NCHUNKS);
    }
    free(back);
    free(got);
    OK(cuStreamDestroy_v2(stream));
    free_batch(&b);
}

/*
 * kv_chunk_row, the kernels' per-block call, is kv_row of a shape whose tokens is the chunk's, its
 * slots from the chunk's first token and its page; 0 past the chunk's tokens. Addresses only,
 * nothing is read but slots: the arithmetic the GPU runs, including the bound the emulator's own
 * walk applies before calling it.
 */
static void chunk_row_is_kv_row(void) {
    int64_t slots[REQUEST];
    for (int t = 0; t < REQUEST; t++) {
        slots[t] = t % 5 == 3 ? -1 : (t * 7 + 3) % (BLOCKS * BLOCK_SIZE);
    }
    const uint64_t caches[LAYERS] = {0x100000000ull, 0x200000000ull, 0x300000000ull};
    int mismatches = 0, rows = 0;
    for (int format = KV_FLASH_ATTN; format <= KV_MLA; format++) {
        int planes = format == KV_MLA ? 1 : 2;
        kv_shape s = {.format = format, .planes = planes, .layers = LAYERS, .block_size = BLOCK_SIZE,
                      .num_slots = BLOCKS * BLOCK_SIZE, .row_bytes = 48, .tokens = CHUNK};
        for (int z = 0; z < NCHUNKS; z++) {
            kv_chunk c = {0x7000000000ull + (uint64_t) z * 0x100000, request_chunks[z].from, request_chunks[z].tokens};
            kv_shape own = s;
            own.tokens = c.tokens;
            for (int y = 0; y < LAYERS * planes; y++) {
                for (int x = 0; x < CHUNK; x++) {
                    char *d1 = NULL, *d2 = NULL;
                    const char *s1 = NULL, *s2 = NULL;
                    int got = kv_chunk_row(&s, caches, slots, &c, x, y, z & 1, &d1, &s1);
                    int want = x < c.tokens && kv_row(&own, caches, slots + c.from, (char *) (uintptr_t) c.page, x, y,
                                                      z & 1, &d2, &s2);
                    mismatches += got != want || d1 != d2 || s1 != s2;
                    rows += got;
                }
            }
        }
    }
    CHECK(mismatches == 0, "kv_chunk_row differs from kv_row of the chunk alone at %d work items", mismatches);
    /* the chunks cover the request once; 6 of its 29 slots are -1; 2 + 2 + 1 planes over three formats */
    CHECK(rows == (2 + 2 + 1) * LAYERS * (REQUEST - 6), "rows %d", rows);
}

static void validation(void) {
    setup s;
    make_setup(&s, KV_FLASH_ATTN, 64);
    void *params[4] = {&s.shape, &s.d_layers, &s.d_slots, &s.d_chunks};
    void *extra[] = {CU_LAUNCH_PARAM_END};
    EXPECT_CU(cuLaunchKernel(gather, 0, 1, 1, 128, 1, 1, 0, NULL, params, NULL), CUDA_ERROR_INVALID_VALUE);
    EXPECT_CU(cuLaunchKernel(gather, 1, 65536, 1, 128, 1, 1, 0, NULL, params, NULL), CUDA_ERROR_INVALID_VALUE);
    EXPECT_CU(cuLaunchKernel(gather, 1, 1, 0, 128, 1, 1, 0, NULL, params, NULL), CUDA_ERROR_INVALID_VALUE);
    EXPECT_CU(cuLaunchKernel(gather, 1, 1, 65536, 128, 1, 1, 0, NULL, params, NULL), CUDA_ERROR_INVALID_VALUE);
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
    OK(cuModuleGetFunction(&other_gather, other_module, "kv_gather_chunks"));
    OK(cuCtxSetCurrent(primary));
    EXPECT_CU(launch(gather, &s, foreign), CUDA_ERROR_INVALID_HANDLE);
    EXPECT_CU(launch(other_gather, &s, NULL), CUDA_ERROR_INVALID_HANDLE);
    OK(cuStreamDestroy_v2(foreign));
    OK(cuModuleUnload(other_module)); /* a module of another context may be unloaded from here */
    OK(cuCtxDestroy_v2(other));
    OK(launch(gather, &s, NULL));
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
    CUdeviceptr plain_table = chunk_table(&(kv_chunk){.page = (uint64_t) (uintptr_t) plain, .tokens = TOKENS}, 1);
    CUstream stream;
    CUdeviceptr p;
    OK(cuStreamCreate(&stream, CU_STREAM_NON_BLOCKING));
    uint64_t faults = emu_counts().faults, reclaimed = emu_counts().reclaimed_at_context_destroy;
    OK(launch_chunks(gather, &s, TOKENS, plain_table, 1, stream)); /* a launch error is asynchronous */
    EXPECT_CU(cuStreamSynchronize(stream), CUDA_ERROR_ILLEGAL_ADDRESS);
    CHECK(emu_counts().faults == faults + 1, "fault not counted");
    const char *why = lmcache4j_cuda_emulator_last_fault();
    CHECK(strstr(why, "kv_gather_chunks") && strstr(why, "block (0,0,0)") && strstr(why, "not registered with cuMemHostRegister"),
          "last fault: '%s'", why);
    EXPECT_CU(cuMemAlloc_v2(&p, 64), CUDA_ERROR_ILLEGAL_ADDRESS);
    EXPECT_CU(cuCtxSynchronize(), CUDA_ERROR_ILLEGAL_ADDRESS);
    EXPECT_CU(launch(gather, &s, stream), CUDA_ERROR_ILLEGAL_ADDRESS);
    EXPECT_CU(cuMemcpyHtoD_v2(s.d_slots, s.slots, 8), CUDA_ERROR_ILLEGAL_ADDRESS);
    EXPECT_CU(cuStreamQuery(stream), CUDA_ERROR_ILLEGAL_ADDRESS);
    OK(cuDevicePrimaryCtxReset_v2(0));
    /* everything the context owned is gone: module, stream, 7 allocations, the registration */
    CHECK(emu_counts().reclaimed_at_context_destroy == reclaimed + 10, "reclaimed %llu",
          (unsigned long long) (emu_counts().reclaimed_at_context_destroy - reclaimed));
    OK(cuMemAlloc_v2(&p, 64));
    OK(cuMemFree_v2(p));
    EXPECT_CU(cuStreamSynchronize(stream), CUDA_ERROR_INVALID_HANDLE);
    free_host_side(&s);
    free(plain);
}

static void load(void) {
    size_t n;
    unsigned char *fatbin = read_file(getenv("LMCACHE4J_TEST_FATBIN"), &n);
    CHECK(fatbin != NULL, "no fatbin at LMCACHE4J_TEST_FATBIN (make cuda)");
    OK(cuModuleLoadData(&module, fatbin)); /* JCuda passes the file's bytes */
    OK(cuModuleGetFunction(&gather, module, "kv_gather_chunks"));
    OK(cuModuleGetFunction(&scatter, module, "kv_scatter_chunks"));
    free(fatbin);
}

/* The context's sticky error is `want` and the last fault names every needle; then reset and reload. */
static void expect_fault(const char *what, CUresult want, const char *n1, const char *n2, const char *n3) {
    EXPECT_CU(cuCtxSynchronize(), want);
    const char *why = lmcache4j_cuda_emulator_last_fault();
    CHECK(strstr(why, n1) && strstr(why, n2) && strstr(why, n3), "%s: last fault '%s'", what, why);
    OK(cuDevicePrimaryCtxReset_v2(0));
    load();
}

/* A layer cache freed before the launch: device memory that is not allocated, a fault too. */
static void freed_cache_faults(void) {
    setup s;
    make_setup(&s, KV_MLA, 64);
    OK(cuMemFree_v2(s.caches[1]));
    OK(launch(scatter, &s, NULL));
    expect_fault("freed cache", CUDA_ERROR_ILLEGAL_ADDRESS, "kv_scatter_chunks", "block (0,1,0)",
                 "device memory that is not allocated");
    free_host_side(&s);
}

/* Chunk tables the kernel cannot use: each a sticky fault, cleared by a reset. */
static void bad_chunk_tables(void) {
    setup s;
    make_setup(&s, KV_FLASH_ATTN, 64);
    kv_chunk *plain = malloc(2 * sizeof *plain);
    plain[0] = plain[1] = (kv_chunk){.page = (uint64_t) (uintptr_t) s.page, .from = 0, .tokens = TOKENS};
    OK(launch_chunks(gather, &s, TOKENS, (CUdeviceptr) (uintptr_t) plain, 2, NULL));
    expect_fault("unregistered chunk table", CUDA_ERROR_ILLEGAL_ADDRESS, "block (0,0,0)", "not registered",
                 "reading the chunk table");
    free_host_side(&s);
    free(plain);

    make_setup(&s, KV_FLASH_ATTN, 64);
    OK(launch_chunks(gather, &s, TOKENS, s.d_chunks + 4, 1, NULL));
    expect_fault("misaligned chunk table", CUDA_ERROR_MISALIGNED_ADDRESS, "kv_gather_chunks", "misaligned", "chunks 0x");
    free_host_side(&s);

    /* chunk 1's 10 tokens in a launch whose grid x is 6: its last 4 rows would never be moved */
    make_setup(&s, KV_BLOCKS_FIRST, 64);
    kv_chunk two[2] = {{(uint64_t) (uintptr_t) s.page, 0, 6}, {(uint64_t) (uintptr_t) s.page, 0, TOKENS}};
    OK(launch_chunks(scatter, &s, 6, chunk_table(two, 2), 2, NULL));
    expect_fault("tokens past grid x", CUDA_ERROR_ILLEGAL_ADDRESS, "block (0,0,1)", "chunk 1 of 2",
                 "more tokens than the launch's grid x (6)");
    free_host_side(&s);

    make_setup(&s, KV_MLA, 64);
    kv_chunk before = {(uint64_t) (uintptr_t) s.page, -1, 4};
    OK(launch_chunks(gather, &s, TOKENS, chunk_table(&before, 1), 1, NULL));
    expect_fault("negative from", CUDA_ERROR_ILLEGAL_ADDRESS, "chunk 0 of 1", "from -1", "a negative from");
    free_host_side(&s);

    /* a chunk whose slots run past the request's slots[] (from 4 + 10 tokens of 10) */
    make_setup(&s, KV_MLA, 64);
    kv_chunk past = {(uint64_t) (uintptr_t) s.page, 4, TOKENS};
    OK(launch_chunks(gather, &s, TOKENS, chunk_table(&past, 1), 1, NULL));
    expect_fault("slots past the end", CUDA_ERROR_ILLEGAL_ADDRESS, "runs past the end of its allocation",
                 "the chunk's slots", "block (0,0,0)");
    free_host_side(&s);
}

int main(void) {
    chunk_row_is_kv_row();
    init_primary();
    load();
    for (int format = KV_FLASH_ATTN; format <= KV_MLA; format++) {
        gather_and_scatter(format, 64, 0);
        gather_and_scatter(format, 24, 0); /* rows that are not a multiple of 16: the byte path */
        batched_gather_and_scatter(format, 64, 0);
        batched_gather_and_scatter(format, 24, 1);
    }
    gather_and_scatter(KV_FLASH_ATTN, 128, 1);
    lmcache4j_cuda_emulator_set_delay_us(5000);
    gather_and_scatter(KV_BLOCKS_FIRST, 64, 0);
    batched_gather_and_scatter(KV_BLOCKS_FIRST, 128, 1);
    lmcache4j_cuda_emulator_set_delay_us(0);
    validation();
    unregistered_page_faults();
    load();
    freed_cache_faults();
    bad_chunk_tables();
    OK(cuModuleUnload(module));
    release_primary();
    expect_nothing_live();
    return test_summary("test_launch");
}
