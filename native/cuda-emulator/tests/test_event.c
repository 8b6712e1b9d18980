/*
 * Events: completion, synchronisation, elapsed time, and the rule that cuStreamWaitEvent waits for
 * the record current at its call (a later record of the same event does not move it).
 */
#include "emu_test.h"

#define DELAY_US 20000
#define N 256

static void slow(void *arg) {
    usleep((useconds_t) (intptr_t) arg);
}

static void query_sync_elapsed(void) {
    CUstream s;
    CUevent a, b, untimed;
    float ms = -1;
    OK(cuStreamCreate(&s, CU_STREAM_NON_BLOCKING));
    EXPECT_CU(cuEventCreate(&a, 0x8), CUDA_ERROR_INVALID_VALUE);
    EXPECT_CU(cuEventCreate(&a, CU_EVENT_INTERPROCESS), CUDA_ERROR_INVALID_VALUE); /* needs DISABLE_TIMING */
    OK(cuEventCreate(&a, CU_EVENT_DEFAULT));
    OK(cuEventCreate(&b, CU_EVENT_BLOCKING_SYNC));
    OK(cuEventCreate(&untimed, CU_EVENT_DISABLE_TIMING));
    OK(cuEventQuery(a)); /* never recorded: complete */
    OK(cuEventSynchronize(a));
    EXPECT_CU(cuEventElapsedTime(&ms, a, b), CUDA_ERROR_INVALID_HANDLE); /* not recorded */
    OK(cuEventRecord(a, s));
    OK(cuLaunchHostFunc(s, slow, (void *) (intptr_t) 200000));
    OK(cuEventRecord(b, s));
    OK(cuEventRecord(untimed, s));
    EXPECT_CU(cuEventQuery(b), CUDA_ERROR_NOT_READY);
    EXPECT_CU(cuEventElapsedTime(&ms, a, b), CUDA_ERROR_NOT_READY);
    OK(cuEventSynchronize(b));
    OK(cuEventQuery(b));
    OK(cuEventElapsedTime(&ms, a, b));
    CHECK(ms >= 195.0f && ms < 5000.0f, "elapsed %.3f ms around a 200 ms host function", (double) ms);
    OK(cuEventElapsedTime_v2(&ms, a, b));
    EXPECT_CU(cuEventElapsedTime(&ms, a, untimed), CUDA_ERROR_INVALID_HANDLE);
    EXPECT_CU(cuEventRecordWithFlags(a, s, 1), CUDA_ERROR_INVALID_VALUE);
    OK(cuEventRecordWithFlags(a, NULL, 0));
    OK(cuEventSynchronize(a));
    EXPECT_CU(cuEventQuery((CUevent) 0x42), CUDA_ERROR_INVALID_HANDLE);
    OK(cuEventDestroy_v2(a));
    OK(cuEventDestroy_v2(b));
    OK(cuEventDestroy_v2(untimed));
    EXPECT_CU(cuEventSynchronize(a), CUDA_ERROR_INVALID_HANDLE);
    EXPECT_CU(cuEventDestroy_v2(a), CUDA_ERROR_INVALID_HANDLE);
    OK(cuStreamDestroy_v2(s));
}

/* A consumer waits for the record at its call; recording the event again later does not hold it. */
static void wait_uses_the_record_at_the_call(void) {
    CUstream producer, consumer;
    CUevent e, done;
    CUdeviceptr d;
    unsigned char *pinned;
    OK(cuMemAlloc_v2(&d, N));
    OK(cuMemAllocHost_v2((void **) &pinned, N));
    OK(cuMemsetD8_v2(d, 0, N));
    OK(cuStreamCreate(&producer, CU_STREAM_NON_BLOCKING));
    OK(cuStreamCreate(&consumer, CU_STREAM_NON_BLOCKING));
    OK(cuEventCreate(&e, CU_EVENT_DISABLE_TIMING));
    OK(cuEventCreate(&done, CU_EVENT_DISABLE_TIMING));
    lmcache4j_cuda_emulator_set_delay_us(DELAY_US);
    OK(cuMemsetD8Async(d, 0x31, N, producer));           /* A */
    OK(cuEventRecord(e, producer));                      /* e = after A */
    OK(cuStreamWaitEvent(consumer, e, 0));               /* the consumer waits for A only */
    OK(cuLaunchHostFunc(producer, slow, (void *) (intptr_t) (10 * DELAY_US)));
    OK(cuMemsetD8Async(d, 0x32, N, producer));           /* B, long after A */
    OK(cuEventRecord(e, producer));                      /* e = after B: does not affect the wait above */
    OK(cuMemcpyDtoHAsync_v2(pinned, d, N, consumer));
    OK(cuEventRecord(done, consumer));
    OK(cuEventSynchronize(done));
    CHECK(pinned[0] == 0x31, "the consumer saw %02x: it waited for the later record", pinned[0]);
    EXPECT_CU(cuEventQuery(e), CUDA_ERROR_NOT_READY);
    /* destroyed while its record is pending: the record still completes, the stream goes on */
    OK(cuEventDestroy_v2(e));
    OK(cuStreamSynchronize(producer));
    CHECK(emu_counts().events == 1, "events alive: %llu", (unsigned long long) emu_counts().events);
    lmcache4j_cuda_emulator_set_delay_us(0);
    OK(cuEventDestroy_v2(done));
    OK(cuStreamDestroy_v2(producer));
    OK(cuStreamDestroy_v2(consumer));
    OK(cuMemFreeHost(pinned));
    OK(cuMemFree_v2(d));
}

/* cuStreamWaitEvent may take an event of another context; cuEventRecord may not take a stream of one. */
static void across_contexts(void) {
    CUcontext primary, other;
    CUevent foreign, mine;
    CUstream s;
    OK(cuCtxGetCurrent(&primary));
    OK(cuCtxCreate_v2(&other, 0, 0));
    OK(cuEventCreate(&foreign, 0));
    OK(cuEventRecord(foreign, NULL));
    OK(cuCtxSetCurrent(primary));
    OK(cuStreamCreate(&s, 0));
    OK(cuEventCreate(&mine, 0));
    OK(cuStreamWaitEvent(s, foreign, 0));
    EXPECT_CU(cuEventRecord(foreign, s), CUDA_ERROR_INVALID_HANDLE);
    OK(cuStreamSynchronize(s));
    OK(cuEventDestroy_v2(mine));
    OK(cuEventDestroy_v2(foreign));
    OK(cuStreamDestroy_v2(s));
    OK(cuCtxDestroy_v2(other));
}

int main(void) {
    init_primary();
    query_sync_elapsed();
    wait_uses_the_record_at_the_call();
    across_contexts();
    release_primary();
    expect_nothing_live();
    return test_summary("test_event");
}
