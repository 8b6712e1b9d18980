/*
 * Assertions and helpers of the emulator's C tests, on native/tests/check.h's CHECK and counters:
 * every failure is printed with the call, what it returned and what was expected, every check
 * counted, and main ends with test_summary(), which prints "<test>: N checks, M failed".
 *
 * The tests call the exported names (cuMemAlloc_v2, cuCtxDestroy_v2, ...): exactly the symbols
 * JCuda binds, declared by cuda.h (or cuda_decls.h) through cuda_api.h.
 */
#ifndef EMU_TEST_H
#define EMU_TEST_H

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../../tests/check.h"
#include "cuda_api.h"

static inline const char *cu_name(CUresult r) {
    const char *s = NULL;
    cuGetErrorName(r, &s);
    return s != NULL ? s : "(unknown CUresult)";
}

/* The call returns expected. */
#define EXPECT_CU(call, expected)                                                                        \
    do {                                                                                                 \
        CUresult got_ = (call);                                                                          \
        CHECK(got_ == (expected), "%s gave %d %s, expected %d %s", #call, (int) got_, cu_name(got_),     \
              (int) (expected), cu_name(expected));                                                     \
    } while (0)

#define OK(call) EXPECT_CU(call, CUDA_SUCCESS)

static inline int test_summary(const char *name) {
    printf("%s: %d checks, %d failed\n", name, check_count, check_failures);
    return check_failures ? 1 : 0;
}

static inline struct lmcache4j_cuda_emulator_counts emu_counts(void) {
    struct lmcache4j_cuda_emulator_counts c;
    memset(&c, 0, sizeof c);
    c.struct_size = sizeof c;
    CHECK(lmcache4j_cuda_emulator_counts(&c) == 0, "lmcache4j_cuda_emulator_counts failed");
    return c;
}

/* Every live resource count is zero: nothing leaked (the tests' last check, as in the engine's). */
static inline void expect_nothing_live(void) {
    struct lmcache4j_cuda_emulator_counts c = emu_counts();
    CHECK(c.contexts == 0 && c.primary_retains == 0 && c.device_allocations == 0 && c.device_bytes == 0
              && c.streams == 0 && c.events == 0 && c.modules == 0 && c.host_registrations == 0
              && c.host_allocations == 0,
          "live at the end: contexts %llu, retains %llu, allocations %llu (%llu bytes), streams %llu, events %llu, "
          "modules %llu, registrations %llu, host allocations %llu",
          (unsigned long long) c.contexts, (unsigned long long) c.primary_retains,
          (unsigned long long) c.device_allocations, (unsigned long long) c.device_bytes,
          (unsigned long long) c.streams, (unsigned long long) c.events, (unsigned long long) c.modules,
          (unsigned long long) c.host_registrations, (unsigned long long) c.host_allocations);
}

/* cuInit, then device 0's primary context retained and made current. */
static inline CUcontext init_primary(void) {
    CUcontext ctx = NULL;
    OK(cuInit(0));
    OK(cuDevicePrimaryCtxRetain(&ctx, 0));
    OK(cuCtxSetCurrent(ctx));
    return ctx;
}

static inline void release_primary(void) {
    OK(cuCtxSetCurrent(NULL));
    OK(cuDevicePrimaryCtxRelease_v2(0));
}

/* A file's bytes (malloc'd, NUL-terminated beyond *size), or NULL. */
static inline unsigned char *read_file(const char *path, size_t *size) {
    FILE *f = path != NULL ? fopen(path, "rb") : NULL;
    if (f == NULL) {
        return NULL;
    }
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *data = malloc((size_t) n + 1);
    if (data != NULL && fread(data, 1, (size_t) n, f) == (size_t) n) {
        data[n] = 0;
        *size = (size_t) n;
    } else {
        free(data);
        data = NULL;
    }
    fclose(f);
    return data;
}

static inline double now_ms(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double) t.tv_sec * 1e3 + (double) t.tv_nsec / 1e6;
}

/* Page-aligned host memory, zeroed (for cuMemHostRegister). */
static inline unsigned char *host_pages(size_t bytes) {
    void *p = NULL;
    if (posix_memalign(&p, 4096, bytes) != 0) {
        return NULL;
    }
    memset(p, 0, bytes);
    return p;
}

#endif
