/*
 * Modules: the real fatbin of `make cuda` (LMCACHE4J_TEST_FATBIN), copies of it patched to hold
 * no usable code, its raw cubins, PTX text (LMCACHE4J_TEST_PTX), and garbage; then functions,
 * their attributes, and parameter layouts that disagree with the emulator's host build.
 */
#include "emu_test.h"

static unsigned char *fatbin;
static size_t fatbin_size;

/* The offset of the fatbin entry of this kind and arch, or 0. */
static size_t entry(const unsigned char *f, int kind, unsigned arch) {
    uint64_t entries;
    memcpy(&entries, f + 8, 8);
    for (size_t off = 16; off < 16 + entries;) {
        uint32_t eh, a;
        uint64_t payload;
        memcpy(&eh, f + off + 4, 4);
        memcpy(&payload, f + off + 8, 8);
        memcpy(&a, f + off + 0x1c, 4);
        if (f[off] == kind && a == arch) {
            return off;
        }
        off += eh + payload;
    }
    return 0;
}

static unsigned char *patched(void) {
    unsigned char *copy = malloc(fatbin_size);
    memcpy(copy, fatbin, fatbin_size);
    return copy;
}

static void set_arch(unsigned char *f, size_t off, unsigned arch) {
    memcpy(f + off + 0x1c, &arch, 4);
}

static char *replace(const char *s, const char *from, const char *to) {
    const char *at = strstr(s, from);
    CHECK(at != NULL, "'%s' not in the PTX", from);
    size_t n = strlen(s) + strlen(to) + 1;
    char *out = malloc(n);
    if (at == NULL) {
        snprintf(out, n, "%s", s);
    } else {
        snprintf(out, n, "%.*s%s%s", (int) (at - s), s, to, at + strlen(from));
    }
    return out;
}

static void fatbin_images(void) {
    CUmodule m;
    CUfunction g, g2, sc;
    int v = 0;
    OK(cuModuleLoadData(&m, fatbin));
    OK(cuModuleGetFunction(&g, m, "kv_gather_chunks"));
    OK(cuModuleGetFunction(&sc, m, "kv_scatter_chunks"));
    OK(cuModuleGetFunction(&g2, m, "kv_gather_chunks"));
    CHECK(g == g2 && g != sc, "function handles");
    EXPECT_CU(cuModuleGetFunction(&g2, m, "kv_nothing"), CUDA_ERROR_NOT_FOUND);
    EXPECT_CU(cuModuleGetFunction(&g2, m, "$__internal_0_$__cuda_sm20_div_s64"), CUDA_ERROR_NOT_FOUND);
    OK(cuFuncGetAttribute(&v, CU_FUNC_ATTRIBUTE_MAX_THREADS_PER_BLOCK, g));
    CHECK(v == 1024, "max threads %d", v);
    OK(cuFuncGetAttribute(&v, CU_FUNC_ATTRIBUTE_NUM_REGS, g));
    CHECK(v > 0 && v <= 255, "registers %d (from .nv.info)", v);
    OK(cuFuncGetAttribute(&v, CU_FUNC_ATTRIBUTE_BINARY_VERSION, g));
    CHECK(v == 90, "binary version %d", v);
    EXPECT_CU(cuFuncGetAttribute(&v, CU_FUNC_ATTRIBUTE_MAX, g), CUDA_ERROR_INVALID_VALUE);
    CUmodule owner = NULL;
    OK(cuFuncGetModule(&owner, sc));
    CHECK(owner == m, "cuFuncGetModule");
    CHECK(emu_counts().modules == 1, "modules %llu", (unsigned long long) emu_counts().modules);
    OK(cuModuleUnload(m));
    EXPECT_CU(cuModuleUnload(m), CUDA_ERROR_INVALID_HANDLE);
    EXPECT_CU(cuModuleGetFunction(&g2, m, "kv_gather_chunks"), CUDA_ERROR_INVALID_HANDLE);
    EXPECT_CU(cuFuncGetAttribute(&v, CU_FUNC_ATTRIBUTE_NUM_REGS, g), CUDA_ERROR_INVALID_HANDLE);
    OK(cuModuleLoadDataEx(&m, fatbin, 0, NULL, NULL));
    OK(cuModuleUnload(m));
    OK(cuModuleLoadFatBinary(&m, fatbin));
    OK(cuModuleUnload(m));
    OK(cuModuleLoad(&m, getenv("LMCACHE4J_TEST_FATBIN")));
    OK(cuModuleUnload(m));
    EXPECT_CU(cuModuleLoad(&m, "/nonexistent/kv_transfer.fatbin"), CUDA_ERROR_FILE_NOT_FOUND);

    size_t elf80 = entry(fatbin, 2, 80), elf90 = entry(fatbin, 2, 90), elf100 = entry(fatbin, 2, 100);
    size_t ptx90 = entry(fatbin, 1, 90);
    CHECK(elf80 && elf90 && elf100 && ptx90, "the fatbin lacks an entry: sm_80 %zu sm_90 %zu sm_100 %zu compute_90 %zu",
          elf80, elf90, elf100, ptx90);
    if (!(elf80 && elf90 && elf100 && ptx90)) {
        return;
    }
    /* no sm_90 ELF, but compute_90 PTX: "JIT compiled", names and layouts from the other ELFs */
    unsigned char *jit = patched();
    set_arch(jit, elf90, 100);
    OK(cuModuleLoadData(&m, jit));
    OK(cuModuleGetFunction(&g, m, "kv_scatter_chunks"));
    OK(cuModuleUnload(m));
    /* ... and the PTX made compute_100: nothing an sm_90 GPU can run */
    set_arch(jit, ptx90, 100);
    EXPECT_CU(cuModuleLoadData(&m, jit), CUDA_ERROR_NO_BINARY_FOR_GPU);
    /* ... or the PTX entry made an unknown kind */
    set_arch(jit, ptx90, 90);
    jit[ptx90] = 7;
    EXPECT_CU(cuModuleLoadData(&m, jit), CUDA_ERROR_NO_BINARY_FOR_GPU);
    free(jit);
    /* the cubins alone */
    uint32_t eh;
    memcpy(&eh, fatbin + elf90 + 4, 4);
    OK(cuModuleLoadData(&m, fatbin + elf90 + eh));
    OK(cuModuleGetFunction(&g, m, "kv_gather_chunks"));
    OK(cuModuleUnload(m));
    memcpy(&eh, fatbin + elf80 + 4, 4);
    EXPECT_CU(cuModuleLoadData(&m, fatbin + elf80 + eh), CUDA_ERROR_NO_BINARY_FOR_GPU);
    /* a fatbin whose entry sizes run past its end */
    unsigned char *bad = patched();
    uint64_t huge = (uint64_t) 1 << 40;
    memcpy(bad + 16 + 8, &huge, 8);
    EXPECT_CU(cuModuleLoadData(&m, bad), CUDA_ERROR_INVALID_IMAGE);
    bad[4] = 2; /* fatbin version 2 */
    EXPECT_CU(cuModuleLoadData(&m, bad), CUDA_ERROR_INVALID_IMAGE);
    free(bad);
}

static void garbage(void) {
    CUmodule m = NULL;
    char junk[256];
    for (size_t i = 0; i < sizeof junk; i++) {
        junk[i] = (char) (i * 37 + 11);
    }
    junk[sizeof junk - 1] = 0;
    EXPECT_CU(cuModuleLoadData(&m, junk), CUDA_ERROR_INVALID_IMAGE);
    EXPECT_CU(cuModuleLoadData(&m, "\177ELF not really an elf"), CUDA_ERROR_INVALID_IMAGE);
    EXPECT_CU(cuModuleLoadData(&m, "// a comment, then no PTX at all\n"), CUDA_ERROR_INVALID_IMAGE);
    EXPECT_CU(cuModuleLoadData(&m, NULL), CUDA_ERROR_INVALID_VALUE);
    CHECK(emu_counts().modules == 0, "a failed load left a module");
}

static void ptx_text(void) {
    size_t n;
    char *ptx = (char *) read_file(getenv("LMCACHE4J_TEST_PTX"), &n);
    CHECK(ptx != NULL, "no PTX at LMCACHE4J_TEST_PTX=%s", getenv("LMCACHE4J_TEST_PTX"));
    if (ptx == NULL) {
        return;
    }
    CUmodule m;
    CUfunction f;
    OK(cuModuleLoadData(&m, ptx));
    OK(cuModuleGetFunction(&f, m, "kv_gather_chunks"));
    OK(cuModuleGetFunction(&f, m, "kv_scatter_chunks"));
    OK(cuModuleUnload(m));
    char *newer = replace(ptx, ".target sm_90", ".target sm_100");
    EXPECT_CU(cuModuleLoadData(&m, newer), CUDA_ERROR_NO_BINARY_FOR_GPU);
    free(newer);
    /* the kernel's first parameter grew: the image no longer matches the emulator's kv_gather_chunks */
    char *grown = replace(ptx, "kv_gather_chunks_param_0[40]", "kv_gather_chunks_param_0[48]");
    OK(cuModuleLoadData(&m, grown));
    EXPECT_CU(cuModuleGetFunction(&f, m, "kv_gather_chunks"), CUDA_ERROR_INVALID_IMAGE);
    OK(cuModuleGetFunction(&f, m, "kv_scatter_chunks"));
    OK(cuModuleUnload(m));
    free(grown);
    /* a kernel the emulator has no host build of: found, then refused at launch */
    char *other = replace(ptx, ".visible .entry kv_gather_chunks(",
                          ".visible .entry other_kernel(.param .u32 n) { ret; }\n.visible .entry kv_gather_chunks(");
    uint32_t arg = 5;
    void *params[] = {&arg};
    OK(cuModuleLoadData(&m, other));
    OK(cuModuleGetFunction(&f, m, "other_kernel"));
    EXPECT_CU(cuLaunchKernel(f, 1, 1, 1, 32, 1, 1, 0, NULL, params, NULL), CUDA_ERROR_NOT_SUPPORTED);
    OK(cuModuleUnload(m));
    free(other);
    free(ptx);
}

int main(void) {
    CUmodule m;
    EXPECT_CU(cuModuleLoadData(&m, "x"), CUDA_ERROR_NOT_INITIALIZED);
    OK(cuInit(0));
    EXPECT_CU(cuModuleLoadData(&m, "x"), CUDA_ERROR_INVALID_CONTEXT);
    init_primary();
    fatbin = read_file(getenv("LMCACHE4J_TEST_FATBIN"), &fatbin_size);
    CHECK(fatbin != NULL, "no fatbin at LMCACHE4J_TEST_FATBIN=%s (make cuda)", getenv("LMCACHE4J_TEST_FATBIN"));
    if (fatbin != NULL) {
        fatbin_images();
    }
    garbage();
    ptx_text();
    free(fatbin);
    release_primary();
    expect_nothing_live();
    return test_summary("test_module");
}
