/*
 * cuInit, devices, contexts, errors, stubs: what the driver answers before any memory moves.
 * The environment settings are checked in forked children before this process calls cuInit.
 */
#include <sys/wait.h>

#include "emu_test.h"

/* In a child: with `setting` in the environment, cuInit returns expect_init, then there are `devices`. */
static void child_with(const char *setting, CUresult expect_init, int devices) {
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        putenv((char *) setting);
        int n = -1;
        CUresult rc = cuInit(0);
        int ok = rc == expect_init && (rc != CUDA_SUCCESS || (cuDeviceGetCount(&n) == CUDA_SUCCESS && n == devices));
        if (ok && rc == CUDA_SUCCESS && devices > 1) {
            CUcontext c;
            CUdeviceptr p = 0;
            int ordinal = -1;
            ok = cuDevicePrimaryCtxRetain(&c, devices - 1) == CUDA_SUCCESS && cuCtxSetCurrent(c) == CUDA_SUCCESS
                 && cuMemAlloc_v2(&p, 4096) == CUDA_SUCCESS
                 && cuPointerGetAttribute(&ordinal, CU_POINTER_ATTRIBUTE_DEVICE_ORDINAL, p) == CUDA_SUCCESS
                 && ordinal == devices - 1 && cuMemFree_v2(p) == CUDA_SUCCESS
                 && cuDevicePrimaryCtxRelease_v2(devices - 1) == CUDA_SUCCESS;
        }
        _exit(ok ? 0 : 1);
    }
    int status = -1;
    waitpid(pid, &status, 0);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "with %s: cuInit/devices not as expected", setting);
}

static void before_init(void) {
    int n, v = 0;
    CUcontext c;
    CUdeviceptr p;
    const char *s = NULL;
    EXPECT_CU(cuDeviceGetCount(&n), CUDA_ERROR_NOT_INITIALIZED);
    EXPECT_CU(cuCtxGetCurrent(&c), CUDA_ERROR_NOT_INITIALIZED);
    EXPECT_CU(cuMemAlloc_v2(&p, 16), CUDA_ERROR_NOT_INITIALIZED);
    EXPECT_CU(cuDevicePrimaryCtxRetain(&c, 0), CUDA_ERROR_NOT_INITIALIZED);
    OK(cuDriverGetVersion(&v));
    CHECK(v == 13000, "driver version %d", v);
    OK(cuGetErrorString(CUDA_ERROR_NOT_INITIALIZED, &s));
    CHECK(s != NULL && strcmp(s, "initialization error") == 0, "string '%s'", s ? s : "(null)");
    EXPECT_CU(cuInit(1), CUDA_ERROR_INVALID_VALUE);
}

static void devices(void) {
    int n = 0, v = 0, major = 0, minor = 0;
    CUdevice d = -1;
    char name[128], bus[32];
    size_t mem = 0;
    CUuuid uuid;
    OK(cuDeviceGetCount(&n));
    CHECK(n == 1, "%d devices", n);
    OK(cuDeviceGet(&d, 0));
    EXPECT_CU(cuDeviceGet(&d, 1), CUDA_ERROR_INVALID_DEVICE);
    EXPECT_CU(cuDeviceGet(&d, -1), CUDA_ERROR_INVALID_DEVICE);
    OK(cuDeviceGetName(name, sizeof name, 0));
    CHECK(strcmp(name, "LMCache4j CUDA emulator (runs on the CPU)") == 0, "name '%s'", name);
    struct { CUdevice_attribute a; int want; } attrs[] = {
        {CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR, 9}, {CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR, 0},
        {CU_DEVICE_ATTRIBUTE_UNIFIED_ADDRESSING, 1}, {CU_DEVICE_ATTRIBUTE_CAN_MAP_HOST_MEMORY, 1},
        {CU_DEVICE_ATTRIBUTE_CAN_USE_HOST_POINTER_FOR_REGISTERED_MEM, 1},
        {CU_DEVICE_ATTRIBUTE_MAX_THREADS_PER_BLOCK, 1024}, {CU_DEVICE_ATTRIBUTE_WARP_SIZE, 32},
        {CU_DEVICE_ATTRIBUTE_MAX_GRID_DIM_Y, 65535}, {CU_DEVICE_ATTRIBUTE_ASYNC_ENGINE_COUNT, 2},
        {CU_DEVICE_ATTRIBUTE_CONCURRENT_KERNELS, 1}, {CU_DEVICE_ATTRIBUTE_MANAGED_MEMORY, 0},
    };
    for (size_t i = 0; i < sizeof attrs / sizeof *attrs; i++) {
        OK(cuDeviceGetAttribute(&v, attrs[i].a, 0));
        CHECK(v == attrs[i].want, "attribute %d is %d, expected %d", (int) attrs[i].a, v, attrs[i].want);
    }
    EXPECT_CU(cuDeviceGetAttribute(&v, CU_DEVICE_ATTRIBUTE_MAX, 0), CUDA_ERROR_INVALID_VALUE);
    OK(cuDeviceComputeCapability(&major, &minor, 0));
    CHECK(major == 9 && minor == 0, "cc %d.%d", major, minor);
    OK(cuDeviceTotalMem_v2(&mem, 0));
    CHECK(mem == (size_t) 16 << 30, "total memory %zu (LMCACHE4J_CUDA_EMULATOR_MEMORY_GB=16)", mem);
    OK(cuDeviceGetUuid(&uuid, 0));
    OK(cuDeviceGetPCIBusId(bus, sizeof bus, 0));
    OK(cuDeviceGetByPCIBusId(&d, bus));
    CHECK(d == 0, "%s is device %d", bus, d);
}

static void *other_thread(void *arg) {
    CUcontext c = (CUcontext) 1;
    CUdeviceptr p;
    OK(cuCtxGetCurrent(&c));
    CHECK(c == NULL, "a new thread has a current context");
    EXPECT_CU(cuMemAlloc_v2(&p, 64), CUDA_ERROR_INVALID_CONTEXT);
    OK(cuCtxSetCurrent((CUcontext) arg)); /* then uses it, and finds it destroyed later */
    return NULL;
}

static void *destroyed_elsewhere(void *arg) {
    CUdeviceptr p;
    OK(cuCtxSetCurrent((CUcontext) arg));
    while (cuCtxSynchronize() == CUDA_SUCCESS) {
        usleep(1000); /* until the main thread destroys it */
    }
    EXPECT_CU(cuMemAlloc_v2(&p, 64), CUDA_ERROR_CONTEXT_IS_DESTROYED);
    return NULL;
}

static void contexts(void) {
    CUcontext primary = NULL, cur = (CUcontext) 1, created = NULL, popped = NULL;
    CUdeviceptr p;
    unsigned flags = 9, version = 0;
    int active = -1;
    unsigned long long id1 = 0, id2 = 0;
    EXPECT_CU(cuMemAlloc_v2(&p, 64), CUDA_ERROR_INVALID_CONTEXT);
    EXPECT_CU(cuCtxSynchronize(), CUDA_ERROR_INVALID_CONTEXT);
    EXPECT_CU(cuCtxGetDevice(&active), CUDA_ERROR_INVALID_CONTEXT);
    OK(cuDevicePrimaryCtxGetState(0, &flags, &active));
    CHECK(flags == 0 && active == 0, "before retain: flags %u active %d", flags, active);
    OK(cuDevicePrimaryCtxRetain(&primary, 0));
    OK(cuCtxGetCurrent(&cur));
    CHECK(cur == NULL, "retaining the primary context made it current");
    OK(cuDevicePrimaryCtxGetState(0, &flags, &active));
    CHECK(active == 1, "retained but not active");
    OK(cuCtxSetCurrent(primary));
    pthread_t t;
    pthread_create(&t, NULL, other_thread, primary);
    pthread_join(t, NULL);
    OK(cuCtxGetApiVersion(NULL, &version));
    CHECK(version == 3020, "api version %u", version);
    OK(cuCtxCreate_v2(&created, 0, 0));
    OK(cuCtxGetCurrent(&cur));
    CHECK(cur == created, "cuCtxCreate did not push the new context");
    OK(cuCtxGetId(created, &id1));
    OK(cuCtxGetId(primary, &id2));
    CHECK(id1 != id2, "context ids equal");
    OK(cuCtxPopCurrent_v2(&popped));
    CHECK(popped == created, "popped another context");
    OK(cuCtxGetCurrent(&cur));
    CHECK(cur == primary, "popping did not restore the primary context");
    OK(cuCtxPushCurrent_v2(created));
    pthread_create(&t, NULL, destroyed_elsewhere, created);
    usleep(20000);
    OK(cuCtxDestroy_v2(created));
    pthread_join(t, NULL);
    OK(cuCtxGetCurrent(&cur));
    CHECK(cur == primary, "cuCtxDestroy did not pop the destroyed context");
    EXPECT_CU(cuCtxDestroy_v2(created), CUDA_ERROR_INVALID_CONTEXT);
    EXPECT_CU(cuCtxDestroy_v2(primary), CUDA_ERROR_INVALID_CONTEXT);
    EXPECT_CU(cuCtxPushCurrent_v2((CUcontext) 0x1234), CUDA_ERROR_INVALID_CONTEXT);
    EXPECT_CU(cuCtxGetApiVersion(created, &version), CUDA_ERROR_CONTEXT_IS_DESTROYED);
    OK(cuDevicePrimaryCtxRelease_v2(0));
    OK(cuDevicePrimaryCtxGetState(0, &flags, &active));
    CHECK(active == 0, "released to zero but still active");
    EXPECT_CU(cuMemAlloc_v2(&p, 64), CUDA_ERROR_CONTEXT_IS_DESTROYED); /* still current, inactive */
    EXPECT_CU(cuDevicePrimaryCtxRelease_v2(0), CUDA_ERROR_INVALID_CONTEXT);
    OK(cuCtxSetCurrent(NULL));
    OK(cuCtxGetCurrent(&cur));
    CHECK(cur == NULL, "cuCtxSetCurrent(NULL) left a context");
    EXPECT_CU(cuCtxPopCurrent_v2(&popped), CUDA_ERROR_INVALID_CONTEXT);
}

/* A created context destroyed with an allocation, a stream and an event in it: all reclaimed and counted. */
static void reclaimed_at_destroy(void) {
    CUcontext c;
    CUdeviceptr p;
    CUstream s;
    CUevent e;
    uint64_t before = emu_counts().reclaimed_at_context_destroy;
    OK(cuCtxCreate_v2(&c, 0, 0));
    OK(cuMemAlloc_v2(&p, 1000));
    OK(cuStreamCreate(&s, 0));
    OK(cuEventCreate(&e, 0));
    struct lmcache4j_cuda_emulator_counts n = emu_counts();
    CHECK(n.contexts == 1 && n.device_allocations == 1 && n.device_bytes == 1000 && n.streams == 1 && n.events == 1,
          "counts after creating: contexts %llu allocations %llu streams %llu", (unsigned long long) n.contexts,
          (unsigned long long) n.device_allocations, (unsigned long long) n.streams);
    OK(cuCtxDestroy_v2(c));
    CHECK(emu_counts().reclaimed_at_context_destroy == before + 3, "reclaimed %llu",
          (unsigned long long) (emu_counts().reclaimed_at_context_destroy - before));
    EXPECT_CU(cuStreamQuery(s), CUDA_ERROR_INVALID_HANDLE);
    EXPECT_CU(cuEventQuery(e), CUDA_ERROR_INVALID_HANDLE);
}

/* Every CUresult of cuda.h has a name; LMCACHE4J_TEST_CUDA_H names the header when there is one. */
static void error_names(void) {
    const char *s = (const char *) 1;
    EXPECT_CU(cuGetErrorName((CUresult) 12345, &s), CUDA_ERROR_INVALID_VALUE);
    CHECK(s == NULL, "unknown error has a name");
    OK(cuGetErrorName(CUDA_ERROR_ILLEGAL_ADDRESS, &s));
    CHECK(strcmp(s, "CUDA_ERROR_ILLEGAL_ADDRESS") == 0, "name %s", s);
    size_t size = 0;
    char *h = (char *) read_file(getenv("LMCACHE4J_TEST_CUDA_H"), &size);
    if (h == NULL) {
        printf("  (no cuda.h: the CUresult list is not cross-checked)\n");
        return;
    }
    char *p = strstr(h, "typedef enum cudaError_enum {"), *end = p ? strstr(p, "} CUresult;") : NULL;
    int seen = 0;
    for (char *q = p; q != NULL && q < end && (q = strstr(q, "CUDA_")) != NULL && q < end; q++) {
        char name[96];
        int value;
        if (q[-1] != ' ' || sscanf(q, "%95[A-Z_] = %d", name, &value) != 2) {
            continue;
        }
        const char *got = NULL, *text = NULL;
        seen++;
        CHECK(cuGetErrorName((CUresult) value, &got) == CUDA_SUCCESS && strcmp(got, name) == 0
                  && cuGetErrorString((CUresult) value, &text) == CUDA_SUCCESS && text != NULL,
              "%s = %d: name %s", name, value, got ? got : "(none)");
    }
    CHECK(seen >= 100, "read %d CUresult values from cuda.h", seen);
    free(h);
}

static void unsupported(void) {
    uint64_t before = emu_counts().unsupported_calls;
    CUarray a;
    EXPECT_CU(cuArrayCreate_v2(&a, NULL), CUDA_ERROR_NOT_SUPPORTED);
    EXPECT_CU(cuArrayCreate_v2(&a, NULL), CUDA_ERROR_NOT_SUPPORTED);
    CHECK(emu_counts().unsupported_calls == before + 2, "unsupported calls not counted");
}

int main(void) {
    before_init();
    child_with("LMCACHE4J_CUDA_EMULATOR_DEVICES=3", CUDA_SUCCESS, 3);
    child_with("LMCACHE4J_CUDA_EMULATOR_DEVICES=0", CUDA_ERROR_NO_DEVICE, 0);
    child_with("LMCACHE4J_CUDA_EMULATOR_DEVICES=9", CUDA_ERROR_INVALID_VALUE, 0);
    child_with("LMCACHE4J_CUDA_EMULATOR_DELAY_US=soon", CUDA_ERROR_INVALID_VALUE, 0);
    OK(cuInit(0));
    OK(cuInit(0));
    devices();
    contexts();
    reclaimed_at_destroy();
    error_names();
    unsupported();
    expect_nothing_live();
    return test_summary("test_context");
}
