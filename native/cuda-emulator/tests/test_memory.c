/*
 * Device memory, host memory and pointer attributes: allocation rules, the PROT_NONE device
 * addresses, registration rules, and what cuPointerGetAttribute(s) say about each kind of memory.
 */
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>

#include "emu_test.h"

static void device_memory(void) {
    CUdeviceptr a = 0, b = 0, big = 0, base = 0;
    size_t free0 = 0, free1 = 0, total = 0, size = 0;
    OK(cuMemGetInfo_v2(&free0, &total));
    CHECK(total == (size_t) 16 << 30 && free0 == total, "free %zu total %zu", free0, total);
    OK(cuMemAlloc_v2(&a, 100));
    OK(cuMemAlloc_v2(&b, 1 << 20));
    CHECK(a % 512 == 0 && b % 512 == 0 && a != b, "addresses %llx %llx", (unsigned long long) a, (unsigned long long) b);
    CHECK(b >= a + 512 || a >= b + (1 << 20), "allocations overlap");
    struct lmcache4j_cuda_emulator_counts c = emu_counts();
    CHECK(c.device_allocations == 2 && c.device_bytes == 100 + (1 << 20), "counted %llu allocations, %llu bytes",
          (unsigned long long) c.device_allocations, (unsigned long long) c.device_bytes);
    OK(cuMemGetInfo_v2(&free1, &total));
    CHECK(free1 == free0 - 4096 - (1 << 20), "free after two allocations (page-aligned spans): %zu", free1);
    OK(cuMemGetAddressRange_v2(&base, &size, b + 12345));
    CHECK(base == b && size == 1 << 20, "range of an interior pointer: %llx + %zu", (unsigned long long) base, size);
    EXPECT_CU(cuMemGetAddressRange_v2(&base, &size, a + 100), CUDA_ERROR_NOT_FOUND);
    EXPECT_CU(cuMemAlloc_v2(&big, 0), CUDA_ERROR_INVALID_VALUE);
    EXPECT_CU(cuMemAlloc_v2(&big, (size_t) 17 << 30), CUDA_ERROR_OUT_OF_MEMORY);
    EXPECT_CU(cuMemFree_v2(b + 512), CUDA_ERROR_INVALID_VALUE);
    EXPECT_CU(cuMemFree_v2(0x1234), CUDA_ERROR_INVALID_VALUE);
    OK(cuMemsetD8_v2(b, 0xab, 1 << 20));
    OK(cuMemsetD32_v2(b, 0x01020304, 4));
    EXPECT_CU(cuMemsetD32_v2(b + 2, 0, 4), CUDA_ERROR_INVALID_VALUE);
    EXPECT_CU(cuMemsetD8_v2(b, 0, (1 << 20) + 1), CUDA_ERROR_INVALID_VALUE);
    unsigned char h[24];
    OK(cuMemcpyDtoH_v2(h, b, sizeof h));
    CHECK(h[0] == 4 && h[3] == 1 && h[15] == 1 && h[16] == 0xab, "memset bytes %02x %02x %02x %02x", h[0], h[3], h[15], h[16]);
    OK(cuMemsetD8Async(b, 7, 16, NULL));
    OK(cuCtxSynchronize());
    OK(cuMemcpyDtoH_v2(h, b, sizeof h));
    CHECK(h[0] == 7 && h[15] == 7 && h[16] == 0xab, "async memset bytes %02x %02x", h[0], h[16]);
    OK(cuMemFree_v2(a));
    EXPECT_CU(cuMemFree_v2(a), CUDA_ERROR_INVALID_VALUE);
    OK(cuMemAlloc_v2(&a, 100));
    CHECK(a % 512 == 0, "reused address %llx", (unsigned long long) a);
    OK(cuMemFree_v2(a));
    OK(cuMemFree_v2(b));
    c = emu_counts();
    CHECK(c.device_allocations == 0 && c.device_bytes == 0, "after freeing: %llu allocations",
          (unsigned long long) c.device_allocations);
}

/* A device pointer is not host memory: reading it on the host dies of SIGSEGV, as with a GPU. */
static void host_dereference_faults(void) {
    CUdeviceptr d;
    OK(cuMemAlloc_v2(&d, 4096));
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        signal(SIGSEGV, SIG_DFL);
        volatile unsigned char *p = (volatile unsigned char *) (uintptr_t) d;
        _exit(p[0] == 0x5a ? 2 : 3);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGSEGV, "the child read a device pointer (status %d)", status);
    OK(cuMemFree_v2(d));
}

static void registration(void) {
    size_t n = 1 << 16;
    unsigned char *h = host_pages(n);
    unsigned char *unmapped = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    munmap(unmapped, 4096);
    CUdeviceptr d = 0, dev;
    unsigned flags;
    OK(cuMemAlloc_v2(&dev, 4096));
    OK(cuMemHostRegister_v2(h, n / 2, CU_MEMHOSTREGISTER_PORTABLE | CU_MEMHOSTREGISTER_DEVICEMAP));
    EXPECT_CU(cuMemHostRegister_v2(h, n / 2, 0), CUDA_ERROR_HOST_MEMORY_ALREADY_REGISTERED);
    EXPECT_CU(cuMemHostRegister_v2(h + 100, 10, 0), CUDA_ERROR_HOST_MEMORY_ALREADY_REGISTERED);
    EXPECT_CU(cuMemHostRegister_v2(h + n / 2 - 1, 10, 0), CUDA_ERROR_HOST_MEMORY_ALREADY_REGISTERED);
    OK(cuMemHostRegister_v2(h + n / 2, n / 2, CU_MEMHOSTREGISTER_READ_ONLY));
    EXPECT_CU(cuMemHostRegister_v2(unmapped, 4096, 0), CUDA_ERROR_INVALID_VALUE);
    EXPECT_CU(cuMemHostRegister_v2((void *) (uintptr_t) dev, 4096, 0), CUDA_ERROR_INVALID_VALUE);
    EXPECT_CU(cuMemHostRegister_v2(h, 0, 0), CUDA_ERROR_INVALID_VALUE);
    EXPECT_CU(cuMemHostRegister_v2(h, n, 0x10), CUDA_ERROR_INVALID_VALUE);
    OK(cuMemHostGetDevicePointer_v2(&d, h + 8, 0));
    CHECK(d == (CUdeviceptr) (uintptr_t) (h + 8), "device pointer %llx of %p", (unsigned long long) d, (void *) (h + 8));
    EXPECT_CU(cuMemHostGetDevicePointer_v2(&d, h + 8, 1), CUDA_ERROR_INVALID_VALUE);
    EXPECT_CU(cuMemHostGetDevicePointer_v2(&d, &flags, 0), CUDA_ERROR_INVALID_VALUE);
    EXPECT_CU(cuMemHostGetFlags(&flags, h), CUDA_ERROR_INVALID_VALUE); /* registered, not allocated */
    CHECK(emu_counts().host_registrations == 2, "registrations %llu", (unsigned long long) emu_counts().host_registrations);
    EXPECT_CU(cuMemHostUnregister(h + 8), CUDA_ERROR_HOST_MEMORY_NOT_REGISTERED);
    EXPECT_CU(cuMemHostUnregister(&flags), CUDA_ERROR_HOST_MEMORY_NOT_REGISTERED);
    OK(cuMemHostUnregister(h));
    OK(cuMemHostUnregister(h + n / 2));
    EXPECT_CU(cuMemHostUnregister(h), CUDA_ERROR_HOST_MEMORY_NOT_REGISTERED);
    void *pinned = NULL, *mapped = NULL;
    OK(cuMemAllocHost_v2(&pinned, 5000));
    OK(cuMemHostAlloc(&mapped, 100, CU_MEMHOSTALLOC_DEVICEMAP | CU_MEMHOSTALLOC_PORTABLE));
    EXPECT_CU(cuMemHostAlloc(&mapped, 100, 0x80), CUDA_ERROR_INVALID_VALUE);
    OK(cuMemHostGetFlags(&flags, (char *) mapped + 5));
    CHECK(flags == (CU_MEMHOSTALLOC_DEVICEMAP | CU_MEMHOSTALLOC_PORTABLE), "flags %u", flags);
    memset(pinned, 1, 5000);
    CHECK(emu_counts().host_allocations == 2, "host allocations %llu", (unsigned long long) emu_counts().host_allocations);
    EXPECT_CU(cuMemHostRegister_v2(pinned, 100, 0), CUDA_ERROR_HOST_MEMORY_ALREADY_REGISTERED);
    EXPECT_CU(cuMemFreeHost(h), CUDA_ERROR_INVALID_VALUE);
    EXPECT_CU(cuMemHostUnregister(pinned), CUDA_ERROR_HOST_MEMORY_NOT_REGISTERED);
    OK(cuMemFreeHost(pinned));
    OK(cuMemFreeHost(mapped));
    OK(cuMemFree_v2(dev));
    free(h);
}

static void pointer_attributes(CUcontext ctx) {
    CUdeviceptr d, got = 0, start = 0;
    unsigned type = 99, mapped = 0, managed = 9;
    int ordinal = -1;
    CUcontext owner = NULL;
    void *host = NULL;
    size_t size = 0;
    unsigned long long id1 = 0, id2 = 0;
    unsigned char *h = host_pages(8192), *plain = malloc(64);
    void *pinned;
    OK(cuMemAlloc_v2(&d, 3000));
    OK(cuMemHostRegister_v2(h, 8192, 0));
    OK(cuMemAllocHost_v2(&pinned, 64));
    OK(cuPointerGetAttribute(&type, CU_POINTER_ATTRIBUTE_MEMORY_TYPE, d + 10));
    CHECK(type == CU_MEMORYTYPE_DEVICE, "device memory type %u", type);
    OK(cuPointerGetAttribute(&owner, CU_POINTER_ATTRIBUTE_CONTEXT, d));
    CHECK(owner == ctx, "owner context");
    OK(cuPointerGetAttribute(&got, CU_POINTER_ATTRIBUTE_DEVICE_POINTER, d + 10));
    CHECK(got == d + 10, "device pointer");
    EXPECT_CU(cuPointerGetAttribute(&host, CU_POINTER_ATTRIBUTE_HOST_POINTER, d), CUDA_ERROR_INVALID_VALUE);
    OK(cuPointerGetAttribute(&start, CU_POINTER_ATTRIBUTE_RANGE_START_ADDR, d + 10));
    OK(cuPointerGetAttribute(&size, CU_POINTER_ATTRIBUTE_RANGE_SIZE, d + 10));
    CHECK(start == d && size == 3000, "range %llx + %zu", (unsigned long long) start, size);
    OK(cuPointerGetAttribute(&ordinal, CU_POINTER_ATTRIBUTE_DEVICE_ORDINAL, d));
    OK(cuPointerGetAttribute(&managed, CU_POINTER_ATTRIBUTE_IS_MANAGED, d));
    OK(cuPointerGetAttribute(&mapped, CU_POINTER_ATTRIBUTE_MAPPED, d));
    CHECK(ordinal == 0 && managed == 0 && mapped == 1, "ordinal %d managed %u mapped %u", ordinal, managed, mapped);
    OK(cuPointerGetAttribute(&id1, CU_POINTER_ATTRIBUTE_BUFFER_ID, d));
    OK(cuPointerGetAttribute(&id2, CU_POINTER_ATTRIBUTE_BUFFER_ID, (CUdeviceptr) (uintptr_t) h));
    CHECK(id1 != id2 && id1 != 0, "buffer ids %llu %llu", id1, id2);
    EXPECT_CU(cuPointerGetAttribute(&type, CU_POINTER_ATTRIBUTE_MEMORY_TYPE, d + 3000), CUDA_ERROR_INVALID_VALUE);
    OK(cuPointerGetAttribute(&type, CU_POINTER_ATTRIBUTE_MEMORY_TYPE, (CUdeviceptr) (uintptr_t) (h + 100)));
    CHECK(type == CU_MEMORYTYPE_HOST, "registered memory type %u", type);
    OK(cuPointerGetAttribute(&host, CU_POINTER_ATTRIBUTE_HOST_POINTER, (CUdeviceptr) (uintptr_t) (h + 100)));
    OK(cuPointerGetAttribute(&got, CU_POINTER_ATTRIBUTE_DEVICE_POINTER, (CUdeviceptr) (uintptr_t) (h + 100)));
    CHECK(host == h + 100 && got == (CUdeviceptr) (uintptr_t) (h + 100), "unified addressing: host %p device %llx",
          host, (unsigned long long) got);
    OK(cuPointerGetAttribute(&type, CU_POINTER_ATTRIBUTE_MEMORY_TYPE, (CUdeviceptr) (uintptr_t) pinned));
    CHECK(type == CU_MEMORYTYPE_HOST, "pinned memory type %u", type);
    EXPECT_CU(cuPointerGetAttribute(&type, CU_POINTER_ATTRIBUTE_MEMORY_TYPE, (CUdeviceptr) (uintptr_t) plain),
              CUDA_ERROR_INVALID_VALUE);
    CUpointer_attribute attrs[] = {CU_POINTER_ATTRIBUTE_MEMORY_TYPE, CU_POINTER_ATTRIBUTE_CONTEXT,
                                   CU_POINTER_ATTRIBUTE_RANGE_SIZE};
    type = 7;
    owner = ctx;
    size = 7;
    void *data[] = {&type, &owner, &size};
    OK(cuPointerGetAttributes(3, attrs, data, (CUdeviceptr) (uintptr_t) plain));
    CHECK(type == 0 && owner == NULL && size == 0, "unregistered memory: type %u", type);
    OK(cuPointerGetAttributes(3, attrs, data, d));
    CHECK(type == CU_MEMORYTYPE_DEVICE && owner == ctx && size == 3000, "device memory: type %u size %zu", type, size);
    /* The engine's probe asks before any context is current: the memory type needs none. */
    OK(cuCtxSetCurrent(NULL));
    OK(cuPointerGetAttribute(&type, CU_POINTER_ATTRIBUTE_MEMORY_TYPE, d));
    CHECK(type == CU_MEMORYTYPE_DEVICE, "without a context: type %u", type);
    EXPECT_CU(cuPointerGetAttribute(&got, CU_POINTER_ATTRIBUTE_DEVICE_POINTER, d), CUDA_ERROR_INVALID_CONTEXT);
    OK(cuCtxSetCurrent(ctx));
    OK(cuMemFreeHost(pinned));
    OK(cuMemHostUnregister(h));
    OK(cuMemFree_v2(d));
    free(h);
    free(plain);
}

int main(void) {
    CUcontext ctx = init_primary();
    device_memory();
    host_dereference_faults();
    registration();
    pointer_attributes(ctx);
    release_primary();
    expect_nothing_live();
    return test_summary("test_memory");
}
