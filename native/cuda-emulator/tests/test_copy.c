/*
 * Copies: validation at the call, and when the caller's host memory is read or written. With the
 * stream delay on, an async copy into page-locked memory has not happened when the call returns
 * and has after cuStreamSynchronize; a pageable source is snapshotted at the call; a pageable
 * destination is written before the call returns.
 */
#include "emu_test.h"

#define DELAY_US 100000
#define N 4096

static void sync_copies(void) {
    unsigned char src[N], dst[N];
    CUdeviceptr a, b;
    for (int i = 0; i < N; i++) {
        src[i] = (unsigned char) (i * 7 + 1);
    }
    OK(cuMemAlloc_v2(&a, N));
    OK(cuMemAlloc_v2(&b, N));
    uint64_t copies = emu_counts().copies;
    OK(cuMemcpyHtoD_v2(a, src, N));
    OK(cuMemcpyDtoD_v2(b, a, N));
    memset(dst, 0, N);
    OK(cuMemcpyDtoH_v2(dst, b, N));
    CHECK(memcmp(src, dst, N) == 0, "round trip through two device buffers differs");
    memset(dst, 0, N);
    OK(cuMemcpy((CUdeviceptr) (uintptr_t) dst, a, N)); /* unified: device to host, from the addresses */
    CHECK(memcmp(src, dst, N) == 0, "cuMemcpy device to host differs");
    CHECK(emu_counts().copies == copies + 4, "copies counted %llu", (unsigned long long) (emu_counts().copies - copies));
    OK(cuMemcpyHtoD_v2(a, src, 0));
    EXPECT_CU(cuMemcpyHtoD_v2(a + 1, src, N), CUDA_ERROR_INVALID_VALUE);        /* past the end */
    EXPECT_CU(cuMemcpyHtoD_v2((CUdeviceptr) (uintptr_t) dst, src, 16), CUDA_ERROR_INVALID_VALUE); /* not device */
    EXPECT_CU(cuMemcpyDtoH_v2((void *) (uintptr_t) b, a, 16), CUDA_ERROR_INVALID_VALUE); /* host in the reservation */
    EXPECT_CU(cuMemcpyDtoD_v2(b + N + 4096, a, 16), CUDA_ERROR_INVALID_VALUE);  /* never allocated */
    EXPECT_CU(cuMemcpyDtoH_v2(NULL, a, 16), CUDA_ERROR_INVALID_VALUE);
    OK(cuMemFree_v2(b));
    EXPECT_CU(cuMemcpyDtoD_v2(b, a, 16), CUDA_ERROR_INVALID_VALUE);             /* freed */
    OK(cuMemFree_v2(a));
}

static void async_copies(void) {
    CUstream s;
    CUdeviceptr d;
    unsigned char *pinned, pageable[N], check[N];
    OK(cuStreamCreate(&s, CU_STREAM_NON_BLOCKING));
    OK(cuMemAlloc_v2(&d, N));
    OK(cuMemAllocHost_v2((void **) &pinned, N));
    OK(cuMemsetD8_v2(d, 0x11, N));
    lmcache4j_cuda_emulator_set_delay_us(DELAY_US);
    CHECK(lmcache4j_cuda_emulator_delay_us() == DELAY_US, "delay not set");

    /* device -> pinned: the bytes land when the stream gets there, not at the call */
    memset(pinned, 0xee, N);
    OK(cuMemcpyDtoHAsync_v2(pinned, d, N, s));
    CHECK(pinned[0] == 0xee && pinned[N - 1] == 0xee, "async DtoH into pinned memory was done at the call");
    EXPECT_CU(cuStreamQuery(s), CUDA_ERROR_NOT_READY);
    OK(cuStreamSynchronize(s));
    CHECK(pinned[0] == 0x11 && pinned[N - 1] == 0x11, "after cuStreamSynchronize: %02x", pinned[0]);

    /* pageable -> device: snapshotted at the call, so changing the source afterwards changes nothing */
    memset(pageable, 0x22, N);
    OK(cuMemcpyHtoDAsync_v2(d, pageable, N, s));
    memset(pageable, 0x33, N);
    OK(cuStreamSynchronize(s));
    OK(cuMemcpyDtoH_v2(check, d, N));
    CHECK(check[0] == 0x22 && check[N - 1] == 0x22, "pageable source not snapshotted: %02x", check[0]);

    /* pinned -> device: truly asynchronous, the source is read when the op runs */
    memset(pinned, 0x44, N);
    OK(cuMemcpyHtoDAsync_v2(d, pinned, N, s));
    memset(pinned, 0x55, N);
    OK(cuStreamSynchronize(s));
    OK(cuMemcpyDtoH_v2(check, d, N));
    CHECK(check[0] == 0x55, "pinned source read at the call: %02x", check[0]);

    /* device -> pageable: returns only once done */
    memset(pageable, 0, N);
    double t0 = now_ms();
    OK(cuMemcpyDtoHAsync_v2(pageable, d, N, s));
    CHECK(pageable[0] == 0x55 && pageable[N - 1] == 0x55, "async DtoH to pageable memory returned early");
    CHECK(now_ms() - t0 >= DELAY_US / 1000.0 * 0.9, "it did not wait for the delayed op");

    /* cuMemcpyAsync: direction from the addresses */
    memset(pinned, 0x66, N);
    OK(cuMemcpyAsync(d, (CUdeviceptr) (uintptr_t) pinned, N, s));
    OK(cuMemcpyAsync((CUdeviceptr) (uintptr_t) pageable, d, N, s));
    CHECK(pageable[7] == 0x66, "cuMemcpyAsync round trip %02x", pageable[7]);

    /* FIFO: the last of many queued writes wins */
    lmcache4j_cuda_emulator_set_delay_us(2000);
    for (int v = 1; v <= 20; v++) {
        OK(cuMemsetD8Async(d, (unsigned char) v, N, s));
    }
    OK(cuMemcpyDtoHAsync_v2(pinned, d, N, s));
    OK(cuStreamSynchronize(s));
    CHECK(pinned[0] == 20 && pinned[N - 1] == 20, "FIFO order broken: %d", pinned[0]);

    lmcache4j_cuda_emulator_set_delay_us(0);
    EXPECT_CU(cuMemcpyHtoDAsync_v2(d, pinned, N, (CUstream) 0x999), CUDA_ERROR_INVALID_HANDLE);
    OK(cuStreamDestroy_v2(s));
    EXPECT_CU(cuMemcpyHtoDAsync_v2(d, pinned, N, s), CUDA_ERROR_INVALID_HANDLE);
    OK(cuMemFreeHost(pinned));
    OK(cuMemFree_v2(d));
}

/* A copy with a stream of another context is refused: the stream is not the current context's. */
static void stream_of_another_context(void) {
    CUcontext other, primary;
    CUstream s;
    CUdeviceptr d;
    unsigned char h[16];
    OK(cuCtxGetCurrent(&primary));
    OK(cuCtxCreate_v2(&other, 0, 0));
    OK(cuStreamCreate(&s, 0));
    OK(cuCtxSetCurrent(primary));
    OK(cuMemAlloc_v2(&d, 16));
    EXPECT_CU(cuMemcpyDtoHAsync_v2(h, d, 16, s), CUDA_ERROR_INVALID_HANDLE);
    EXPECT_CU(cuMemsetD8Async(d, 0, 16, s), CUDA_ERROR_INVALID_HANDLE);
    OK(cuStreamSynchronize(s)); /* a stream of any context may be waited for */
    OK(cuMemFree_v2(d));
    OK(cuStreamDestroy_v2(s));
    OK(cuCtxDestroy_v2(other));
}

/*
 * Device memory freed while a copy that reads it is still queued: another context's cuMemFree does
 * not wait for this context's streams, so the copy meets freed memory when it runs, and faults.
 */
static void freed_while_queued(void) {
    CUcontext primary, other;
    CUdeviceptr x;
    CUstream s;
    unsigned char *pinned;
    OK(cuCtxGetCurrent(&primary));
    OK(cuCtxCreate_v2(&other, 0, 0));
    OK(cuMemAlloc_v2(&x, N));
    OK(cuCtxSetCurrent(primary));
    OK(cuStreamCreate(&s, CU_STREAM_NON_BLOCKING));
    OK(cuMemAllocHost_v2((void **) &pinned, N));
    lmcache4j_cuda_emulator_set_delay_us(DELAY_US);
    uint64_t faults = emu_counts().faults;
    OK(cuMemcpyDtoHAsync_v2(pinned, x, N, s));
    OK(cuCtxSetCurrent(other));
    OK(cuMemFree_v2(x));
    OK(cuCtxSetCurrent(primary));
    EXPECT_CU(cuStreamSynchronize(s), CUDA_ERROR_ILLEGAL_ADDRESS);
    CHECK(emu_counts().faults == faults + 1, "the copy's fault was not counted");
    CHECK(strstr(lmcache4j_cuda_emulator_last_fault(), "cuMemcpyDtoHAsync") != NULL
              && strstr(lmcache4j_cuda_emulator_last_fault(), "not allocated") != NULL,
          "last fault: '%s'", lmcache4j_cuda_emulator_last_fault());
    lmcache4j_cuda_emulator_set_delay_us(0);
    EXPECT_CU(cuMemFreeHost(pinned), CUDA_ERROR_ILLEGAL_ADDRESS); /* the context's sticky error */
    OK(cuDevicePrimaryCtxReset_v2(0));                             /* frees the stream and the pinned memory */
    OK(cuCtxDestroy_v2(other));
}

int main(void) {
    init_primary();
    sync_copies();
    async_copies();
    stream_of_another_context();
    freed_while_queued();
    release_primary();
    expect_nothing_live();
    return test_summary("test_copy");
}
