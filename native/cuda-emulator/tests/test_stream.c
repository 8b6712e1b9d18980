/*
 * Streams: ordering and its absence. A slow host function at the head of a stream (plus the stream
 * delay) makes "later" unambiguous, so each test asserts both that the ordered consumer sees the
 * producer's bytes and that an unordered one sees the old bytes.
 */
#include "emu_test.h"

#define DELAY_US 40000
#define N 256

static CUdeviceptr d;
static unsigned char *pinned;

static void slow(void *arg) {
    (void) arg;
    usleep(4 * DELAY_US);
}

/* Queues on s: a slow host function, then d := value. The write happens about 6 delays from now. */
static void slow_write(CUstream s, unsigned char value) {
    OK(cuLaunchHostFunc(s, slow, NULL));
    OK(cuMemsetD8Async(d, value, N, s));
}

static void reset_d(void) {
    OK(cuCtxSynchronize());
    OK(cuMemsetD8_v2(d, 0, N));
}

static unsigned char read_d_sync(void) {
    unsigned char h[N];
    OK(cuMemcpyDtoH_v2(h, d, N)); /* on the legacy stream */
    return h[N - 1];
}

static void wait_event_orders_two_streams(void) {
    CUstream producer, consumer;
    CUevent e;
    OK(cuStreamCreate(&producer, CU_STREAM_NON_BLOCKING));
    OK(cuStreamCreate(&consumer, CU_STREAM_NON_BLOCKING));
    OK(cuEventCreate(&e, CU_EVENT_DISABLE_TIMING));
    for (int with_wait = 1; with_wait >= 0; with_wait--) {
        reset_d();
        memset(pinned, 0xee, N);
        slow_write(producer, 0x77);
        OK(cuEventRecord(e, producer));
        if (with_wait) {
            OK(cuStreamWaitEvent(consumer, e, 0));
        }
        OK(cuMemcpyDtoHAsync_v2(pinned, d, N, consumer));
        OK(cuStreamSynchronize(consumer));
        if (with_wait) {
            CHECK(pinned[0] == 0x77, "with cuStreamWaitEvent the consumer saw %02x, not the producer's 77", pinned[0]);
        } else {
            CHECK(pinned[0] == 0x00, "without a wait the consumer saw %02x: ordered by luck?", pinned[0]);
        }
        OK(cuStreamSynchronize(producer));
    }
    EXPECT_CU(cuStreamWaitEvent(consumer, e, 1), CUDA_ERROR_INVALID_VALUE);
    EXPECT_CU(cuStreamWaitEvent(consumer, (CUevent) 0x10, 0), CUDA_ERROR_INVALID_HANDLE);
    OK(cuEventDestroy_v2(e));
    OK(cuStreamDestroy_v2(producer));
    OK(cuStreamDestroy_v2(consumer));
}

static void legacy_stream_implicit_sync(void) {
    CUstream blocking, nonblocking;
    OK(cuStreamCreate(&blocking, CU_STREAM_DEFAULT));
    OK(cuStreamCreate(&nonblocking, CU_STREAM_NON_BLOCKING));
    /* legacy work waits for a blocking stream's earlier work, not for a non-blocking one's */
    reset_d();
    slow_write(blocking, 0x99);
    CHECK(read_d_sync() == 0x99, "the legacy stream did not wait for the blocking stream");
    reset_d();
    slow_write(nonblocking, 0x98);
    CHECK(read_d_sync() == 0x00, "the legacy stream waited for a non-blocking stream");
    OK(cuStreamSynchronize(nonblocking));
    /* a blocking stream's work waits for earlier legacy work; a non-blocking stream's does not */
    for (int is_blocking = 1; is_blocking >= 0; is_blocking--) {
        CUstream s = is_blocking ? blocking : nonblocking;
        reset_d();
        memset(pinned, 0xee, N);
        slow_write(NULL, 0xaa);
        OK(cuMemcpyDtoHAsync_v2(pinned, d, N, s));
        OK(cuStreamSynchronize(s));
        CHECK(pinned[0] == (is_blocking ? 0xaa : 0x00), "%s stream after legacy work saw %02x",
              is_blocking ? "blocking" : "non-blocking", pinned[0]);
        OK(cuStreamSynchronize(CU_STREAM_LEGACY));
    }
    /* the per-thread default stream is a blocking stream */
    reset_d();
    slow_write(CU_STREAM_PER_THREAD, 0xbb);
    CHECK(read_d_sync() == 0xbb, "the legacy stream did not wait for the per-thread stream");
    OK(cuStreamDestroy_v2(blocking));
    OK(cuStreamDestroy_v2(nonblocking));
}

static void *per_thread_id(void *arg) {
    OK(cuCtxSetCurrent((CUcontext) ((void **) arg)[0]));
    OK(cuStreamGetId(CU_STREAM_PER_THREAD, (unsigned long long *) ((void **) arg)[1]));
    return NULL;
}

static void attributes_and_handles(CUcontext ctx) {
    CUstream s, gone;
    unsigned flags = 9;
    int priority = 9, least = 9, greatest = 9;
    unsigned long long id1 = 0, id2 = 0, id3 = 0;
    CUcontext owner = NULL;
    OK(cuCtxGetStreamPriorityRange(&least, &greatest));
    CHECK(least == 0 && greatest == -5, "priority range [%d, %d]", least, greatest);
    OK(cuStreamCreateWithPriority(&s, CU_STREAM_NON_BLOCKING, -100));
    OK(cuStreamGetPriority(s, &priority));
    OK(cuStreamGetFlags(s, &flags));
    OK(cuStreamGetCtx(s, &owner));
    CHECK(priority == -5 && flags == CU_STREAM_NON_BLOCKING && owner == ctx, "priority %d flags %u", priority, flags);
    OK(cuStreamGetId(s, &id1));
    OK(cuStreamGetId(NULL, &id2));
    CHECK(id1 != id2, "stream ids equal");
    OK(cuStreamGetId(CU_STREAM_PER_THREAD, &id2));
    void *arg[2] = {ctx, &id3};
    pthread_t t;
    pthread_create(&t, NULL, per_thread_id, arg);
    pthread_join(t, NULL);
    CHECK(id2 != id3, "two threads share a per-thread stream");
    EXPECT_CU(cuStreamCreate(&gone, 4), CUDA_ERROR_INVALID_VALUE);
    OK(cuStreamCreate(&gone, 0));
    OK(cuStreamDestroy_v2(gone));
    EXPECT_CU(cuStreamQuery(gone), CUDA_ERROR_INVALID_HANDLE);
    EXPECT_CU(cuStreamSynchronize(gone), CUDA_ERROR_INVALID_HANDLE);
    EXPECT_CU(cuStreamDestroy_v2(gone), CUDA_ERROR_INVALID_HANDLE);
    EXPECT_CU(cuStreamDestroy_v2(NULL), CUDA_ERROR_INVALID_HANDLE);
    EXPECT_CU(cuStreamQuery((CUstream) 0xdeadbeef), CUDA_ERROR_INVALID_HANDLE);
    EXPECT_CU(cuStreamGetFlags((CUstream) 0x7fff0000, &flags), CUDA_ERROR_INVALID_HANDLE);
    OK(cuStreamQuery(NULL));
    OK(cuStreamDestroy_v2(s));
}

/* cuStreamDestroy returns at once; the queued work still runs. */
static void destroy_with_pending_work(void) {
    CUstream s;
    OK(cuStreamCreate(&s, CU_STREAM_NON_BLOCKING));
    memset(pinned, 0xee, N);
    slow_write(s, 0xcc);
    OK(cuMemcpyDtoHAsync_v2(pinned, d, N, s));
    double t0 = now_ms();
    OK(cuStreamDestroy_v2(s));
    CHECK(now_ms() - t0 < 4 * DELAY_US / 1000.0, "cuStreamDestroy waited for the work");
    CHECK(emu_counts().streams == 0, "a destroyed stream is still counted");
    CHECK(pinned[0] == 0xee, "the work was done before destroy returned");
    OK(cuCtxSynchronize());
    CHECK(pinned[0] == 0xcc, "the pending work of a destroyed stream did not complete: %02x", pinned[0]);
}

static int order[8], norder;
static CUstream callback_stream;
static CUresult callback_status = CUDA_ERROR_UNKNOWN;

static void note(void *arg) {
    order[norder++] = (int) (intptr_t) arg;
}

static void callback(CUstream s, CUresult status, void *arg) {
    callback_stream = s;
    callback_status = status;
    note(arg);
}

static void host_functions(void) {
    CUstream s;
    OK(cuStreamCreate(&s, 0));
    OK(cuLaunchHostFunc(s, note, (void *) 1));
    OK(cuStreamAddCallback(s, callback, (void *) 2, 0));
    OK(cuLaunchHostFunc(s, note, (void *) 3));
    EXPECT_CU(cuStreamAddCallback(s, callback, NULL, 1), CUDA_ERROR_INVALID_VALUE);
    EXPECT_CU(cuLaunchHostFunc(s, NULL, NULL), CUDA_ERROR_INVALID_VALUE);
    OK(cuStreamSynchronize(s));
    CHECK(norder == 3 && order[0] == 1 && order[1] == 2 && order[2] == 3, "host functions ran out of order");
    CHECK(callback_stream == s && callback_status == CUDA_SUCCESS, "callback got stream %p status %d",
          (void *) callback_stream, (int) callback_status);
    OK(cuStreamDestroy_v2(s));
}

int main(void) {
    CUcontext ctx = init_primary();
    OK(cuMemAlloc_v2(&d, N));
    OK(cuMemAllocHost_v2((void **) &pinned, N));
    lmcache4j_cuda_emulator_set_delay_us(DELAY_US);
    wait_event_orders_two_streams();
    legacy_stream_implicit_sync();
    attributes_and_handles(ctx);
    destroy_with_pending_work();
    host_functions();
    lmcache4j_cuda_emulator_set_delay_us(0);
    OK(cuMemFreeHost(pinned));
    OK(cuMemFree_v2(d));
    release_primary();
    expect_nothing_live();
    return test_summary("test_stream");
}
