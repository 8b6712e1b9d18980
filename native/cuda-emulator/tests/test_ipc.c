/*
 * CUDA IPC of device memory across processes: the test exports allocations and runs itself again
 * as a second process (posix_spawn of /proc/self/exe, a fresh process with its own driver state)
 * that opens them. Checked: bytes written on either side are seen by the other; the handle rules
 * (base only, no open in the exporting process, flags, references, close) and every bad handle
 * (not a handle, another nonce or descriptor, a process that does not exist, freed memory); a
 * context destroyed with memory open closes it; nothing is live at the end on either side.
 */
#include <spawn.h>
#include <sys/wait.h>

#include "emu_test.h"

extern char **environ;

#define SIZE (3 * 4096 + 100)

static unsigned char pattern(size_t i) {
    return (unsigned char) (i * 7 + 1);
}

static void to_hex(const CUipcMemHandle *h, char *out) {
    const unsigned char *b = (const unsigned char *) h;
    for (int i = 0; i < 64; i++) {
        sprintf(out + 2 * i, "%02x", b[i]);
    }
}

static CUipcMemHandle from_hex(const char *hex) {
    CUipcMemHandle h;
    unsigned char *b = (unsigned char *) &h;
    for (int i = 0; i < 64; i++) {
        unsigned v = 0;
        sscanf(hex + 2 * i, "%2x", &v);
        b[i] = (unsigned char) v;
    }
    return h;
}

/* Runs this test as another process: argv {mode, handle}; its exit status (0: every check passed). */
static int run_child(const char *mode, const CUipcMemHandle *h) {
    char hex[129];
    to_hex(h, hex);
    char *argv[] = {"test_ipc", (char *) mode, hex, NULL};
    pid_t pid;
    int status = -1;
    if (posix_spawn(&pid, "/proc/self/exe", NULL, NULL, argv, environ) != 0 || waitpid(pid, &status, 0) != pid) {
        return -1;
    }
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* The other process: opens the parent's allocation, reads the pattern, writes its first page with 0x5a. */
static void child_open(CUipcMemHandle h) {
    CUdeviceptr p = 0, again = 0, own = 0, base = 0;
    size_t size = 0;
    EXPECT_CU(cuIpcOpenMemHandle_v2(&p, h, 0), CUDA_ERROR_INVALID_VALUE); /* flags must be LAZY_ENABLE_PEER_ACCESS */
    OK(cuIpcOpenMemHandle_v2(&p, h, CU_IPC_MEM_LAZY_ENABLE_PEER_ACCESS));
    OK(cuIpcOpenMemHandle_v2(&again, h, CU_IPC_MEM_LAZY_ENABLE_PEER_ACCESS));
    CHECK(again == p, "a second open in the same context gave %llx, not %llx", (unsigned long long) again,
          (unsigned long long) p);
    OK(cuMemGetAddressRange_v2(&base, &size, p + 5000));
    CHECK(base == p && size == SIZE, "opened range %llx + %zu", (unsigned long long) base, size);
    unsigned char *got = malloc(SIZE);
    OK(cuMemAlloc_v2(&own, SIZE));
    OK(cuMemcpyDtoD_v2(own, p, SIZE)); /* a device-side copy reaches the opened memory */
    OK(cuMemcpyDtoH_v2(got, own, SIZE));
    size_t bad = SIZE;
    for (size_t i = 0; i < SIZE && bad == SIZE; i++) {
        bad = got[i] == pattern(i) ? SIZE : i;
    }
    CHECK(bad == SIZE, "opened bytes differ from the exporter's at %zu", bad);
    OK(cuMemsetD8_v2(p, 0x5a, 4096));
    OK(cuCtxSynchronize());
    EXPECT_CU(cuMemFree_v2(p), CUDA_ERROR_INVALID_VALUE); /* opened memory is closed, not freed */
    EXPECT_CU(cuIpcCloseMemHandle(own), CUDA_ERROR_INVALID_VALUE);
    EXPECT_CU(cuIpcCloseMemHandle(p + 4096), CUDA_ERROR_INVALID_VALUE);
    EXPECT_CU(cuIpcGetMemHandle(&h, p), CUDA_ERROR_INVALID_VALUE); /* not re-exported */
    OK(cuIpcCloseMemHandle(p));
    OK(cuMemsetD8_v2(p, 0x5a, 1)); /* one reference left: still mapped */
    OK(cuIpcCloseMemHandle(p));
    EXPECT_CU(cuIpcCloseMemHandle(p), CUDA_ERROR_INVALID_VALUE);
    OK(cuMemFree_v2(own));
    free(got);
}

/* Handles that are not, or no longer, valid. */
static void child_bad_handles(CUipcMemHandle h) {
    CUdeviceptr p = 0;
    CUipcMemHandle x = h;
    memset(&x, 0x11, sizeof x);
    EXPECT_CU(cuIpcOpenMemHandle_v2(&p, x, CU_IPC_MEM_LAZY_ENABLE_PEER_ACCESS), CUDA_ERROR_INVALID_VALUE);
    x = h;
    ((unsigned char *) &x)[40] ^= 1; /* another nonce: the descriptor is another allocation's */
    EXPECT_CU(cuIpcOpenMemHandle_v2(&p, x, CU_IPC_MEM_LAZY_ENABLE_PEER_ACCESS), CUDA_ERROR_INVALID_HANDLE);
    x = h;
    ((unsigned char *) &x)[12] = 0; /* descriptor 0: not the memfd */
    EXPECT_CU(cuIpcOpenMemHandle_v2(&p, x, CU_IPC_MEM_LAZY_ENABLE_PEER_ACCESS), CUDA_ERROR_INVALID_HANDLE);
    x = h;
    ((unsigned char *) &x)[11] = 0x7f; /* a pid above any pid_max: no such process */
    EXPECT_CU(cuIpcOpenMemHandle_v2(&p, x, CU_IPC_MEM_LAZY_ENABLE_PEER_ACCESS), CUDA_ERROR_INVALID_HANDLE);
    EXPECT_CU(cuIpcOpenMemHandle_v2(NULL, h, CU_IPC_MEM_LAZY_ENABLE_PEER_ACCESS), CUDA_ERROR_INVALID_VALUE);
}

/* Freed by the exporter before anybody opened it: gone. */
static void child_gone(CUipcMemHandle h) {
    CUdeviceptr p = 0;
    EXPECT_CU(cuIpcOpenMemHandle_v2(&p, h, CU_IPC_MEM_LAZY_ENABLE_PEER_ACCESS), CUDA_ERROR_INVALID_HANDLE);
}

/* A created context destroyed with the memory still open closes it (counted as reclaimed). */
static void child_context_destroyed(CUipcMemHandle h) {
    CUcontext created = NULL;
    CUdeviceptr p = 0;
    OK(cuCtxCreate_v2(&created, 0, 0));
    OK(cuIpcOpenMemHandle_v2(&p, h, CU_IPC_MEM_LAZY_ENABLE_PEER_ACCESS));
    uint64_t before = emu_counts().reclaimed_at_context_destroy;
    OK(cuCtxDestroy_v2(created));
    CHECK(emu_counts().reclaimed_at_context_destroy == before + 1, "the opened memory was not reclaimed");
}

static int child(const char *mode, const char *hex) {
    init_primary();
    CUipcMemHandle h = from_hex(hex);
    if (strcmp(mode, "open") == 0) {
        child_open(h);
    } else if (strcmp(mode, "bad") == 0) {
        child_bad_handles(h);
    } else if (strcmp(mode, "gone") == 0) {
        child_gone(h);
    } else {
        child_context_destroyed(h);
    }
    release_primary();
    expect_nothing_live();
    char name[64];
    snprintf(name, sizeof name, "test_ipc (opening process, %s)", mode);
    return test_summary(name);
}

int main(int argc, char **argv) {
    if (argc == 3) {
        return child(argv[1], argv[2]);
    }
    init_primary();
    CUdeviceptr a = 0, b = 0;
    CUipcMemHandle h, h2, hb;
    unsigned char *bytes = malloc(SIZE), *got = malloc(SIZE);
    for (size_t i = 0; i < SIZE; i++) {
        bytes[i] = pattern(i);
    }
    OK(cuMemAlloc_v2(&a, SIZE));
    OK(cuMemAlloc_v2(&b, 1 << 20));
    OK(cuMemcpyHtoD_v2(a, bytes, SIZE));
    EXPECT_CU(cuIpcGetMemHandle(&h, a + 4096), CUDA_ERROR_INVALID_VALUE); /* the handle is for the base */
    EXPECT_CU(cuIpcGetMemHandle(&h, 0x1234), CUDA_ERROR_INVALID_VALUE);
    EXPECT_CU(cuIpcGetMemHandle(NULL, a), CUDA_ERROR_INVALID_VALUE);
    OK(cuIpcGetMemHandle(&h, a));
    OK(cuIpcGetMemHandle(&h2, a));
    CHECK(memcmp(&h, &h2, sizeof h) == 0, "two exports of one allocation gave two handles");
    unsigned capable = 0;
    OK(cuPointerGetAttribute(&capable, CU_POINTER_ATTRIBUTE_IS_LEGACY_CUDA_IPC_CAPABLE, a));
    CHECK(capable == 1, "device memory says it is not IPC capable");
    OK(cuMemcpyDtoH_v2(got, a, SIZE));
    CHECK(memcmp(got, bytes, SIZE) == 0, "exporting changed the allocation's bytes");
    CUdeviceptr p = 0;
    EXPECT_CU(cuIpcOpenMemHandle_v2(&p, h, CU_IPC_MEM_LAZY_ENABLE_PEER_ACCESS), CUDA_ERROR_INVALID_CONTEXT);

    CHECK(run_child("open", &h) == 0, "the opening process failed its checks");
    OK(cuMemcpyDtoH_v2(got, a, SIZE));
    memset(bytes, 0x5a, 4096);
    CHECK(memcmp(got, bytes, SIZE) == 0, "the exporter does not see what the other process wrote");
    CHECK(run_child("bad", &h) == 0, "bad handles were not refused as expected");
    CHECK(run_child("context", &h) == 0, "destroying a context did not close its opened memory");
    OK(cuIpcGetMemHandle(&hb, b));
    OK(cuMemFree_v2(b));
    CHECK(run_child("gone", &hb) == 0, "a freed allocation's handle still opened");
    OK(cuMemFree_v2(a));
    CHECK(run_child("gone", &h) == 0, "a freed allocation's handle still opened");
    free(bytes);
    free(got);
    release_primary();
    expect_nothing_live();
    return test_summary("test_ipc");
}
