/*
 * Host memory the device may reach: ranges registered with cuMemHostRegister and page-locked
 * allocations from cuMemAllocHost / cuMemHostAlloc.
 *
 * With unified addressing the device address of such memory is its host address, so the ranges
 * are what the resolver checks kernel and DMA accesses against: a kernel that touches host memory
 * outside them faults, as it would on a GPU. Registration checks what the real call checks: the
 * range is mapped (msync answers ENOMEM for any unmapped page), overlaps no other registration
 * (CUDA_ERROR_HOST_MEMORY_ALREADY_REGISTERED), and is not device memory. Unregistering and
 * freeing wait until no queued work anywhere can still reach the range.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "emu.h"

#define REGISTER_FLAGS (CU_MEMHOSTREGISTER_PORTABLE | CU_MEMHOSTREGISTER_DEVICEMAP | CU_MEMHOSTREGISTER_IOMEMORY \
                        | CU_MEMHOSTREGISTER_READ_ONLY)
#define HOSTALLOC_FLAGS (CU_MEMHOSTALLOC_PORTABLE | CU_MEMHOSTALLOC_DEVICEMAP | CU_MEMHOSTALLOC_WRITECOMBINED)

static emu_host_range *ranges; /* sorted by base, never overlapping */
static size_t nranges, cap;

int emu_host_mapped(uint64_t addr, uint64_t len) {
    uint64_t page = (uint64_t) sysconf(_SC_PAGESIZE);
    uint64_t lo = addr & ~(page - 1);
    if (len == 0 || addr + len < addr) {
        return 0;
    }
    return msync((void *) (uintptr_t) lo, (size_t) (addr + len - lo), MS_ASYNC) == 0 || errno != ENOMEM;
}

static size_t upper_bound(uint64_t addr) {
    size_t lo = 0, hi = nranges;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (ranges[mid].base <= addr) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return lo;
}

const emu_host_range *emu_host_find_locked(uint64_t addr) {
    size_t i = upper_bound(addr);
    if (i == 0) {
        return NULL;
    }
    const emu_host_range *r = &ranges[i - 1];
    return addr < r->base + r->size ? r : NULL;
}

static int overlaps_locked(uint64_t addr, uint64_t len) {
    size_t i = upper_bound(addr + len - 1);
    return i > 0 && ranges[i - 1].base + ranges[i - 1].size > addr;
}

static CUresult insert_locked(emu_host_range r) {
    if (nranges == cap) {
        size_t ncap = cap == 0 ? 64 : cap * 2;
        emu_host_range *n = realloc(ranges, ncap * sizeof *n);
        if (n == NULL) {
            return CUDA_ERROR_OUT_OF_MEMORY;
        }
        ranges = n;
        cap = ncap;
    }
    size_t i = upper_bound(r.base);
    memmove(&ranges[i + 1], &ranges[i], (nranges - i) * sizeof *ranges);
    ranges[i] = r;
    nranges++;
    return CUDA_SUCCESS;
}

static void remove_at(size_t i) {
    if (ranges[i].allocated) {
        munmap((void *) (uintptr_t) ranges[i].base, (size_t) ranges[i].size);
    }
    memmove(&ranges[i], &ranges[i + 1], (nranges - i - 1) * sizeof *ranges);
    nranges--;
}

CUresult cuMemHostRegister_v2(void *p, size_t bytesize, unsigned int Flags) {
    uint64_t addr = (uint64_t) (uintptr_t) p;
    if (p == NULL || bytesize == 0 || (Flags & ~(unsigned) REGISTER_FLAGS) != 0 || addr + bytesize < addr) {
        return CUDA_ERROR_INVALID_VALUE;
    }
    EMU_LOCK();
    emu_ctx *c;
    CUresult rc = emu_enter_locked(&c);
    if (rc == CUDA_SUCCESS && (emu_in_reservation(addr, bytesize) || !emu_host_mapped(addr, bytesize))) {
        rc = CUDA_ERROR_INVALID_VALUE;
    }
    if (rc == CUDA_SUCCESS && overlaps_locked(addr, bytesize)) {
        rc = CUDA_ERROR_HOST_MEMORY_ALREADY_REGISTERED;
    }
    if (rc == CUDA_SUCCESS) {
        rc = insert_locked((emu_host_range){.base = addr, .size = bytesize, .flags = Flags, .ctx = c,
                                            .buffer_id = emu_id_new_locked()});
    }
    EMU_UNLOCK();
    return rc;
}

/* Removes the range that starts at p (allocated says which kind); missing is the error if none. */
static CUresult remove_range(void *p, int allocated, CUresult missing) {
    EMU_LOCK();
    emu_ctx *c;
    CUresult rc = emu_enter_locked(&c);
    if (rc == CUDA_SUCCESS) {
        const emu_host_range *r = emu_host_find_locked((uint64_t) (uintptr_t) p);
        if (r == NULL || r->base != (uint64_t) (uintptr_t) p || r->allocated != allocated) {
            rc = missing;
        } else {
            emu_idle_locked(NULL);
            r = emu_host_find_locked((uint64_t) (uintptr_t) p);
            if (r == NULL || r->base != (uint64_t) (uintptr_t) p || r->allocated != allocated) {
                rc = missing;
            } else {
                remove_at((size_t) (r - ranges));
            }
        }
    }
    EMU_UNLOCK();
    return rc;
}

CUresult cuMemHostUnregister(void *p) {
    return remove_range(p, 0, CUDA_ERROR_HOST_MEMORY_NOT_REGISTERED);
}

CUresult cuMemHostAlloc(void **pp, size_t bytesize, unsigned int Flags) {
    if (pp == NULL || bytesize == 0 || (Flags & ~(unsigned) HOSTALLOC_FLAGS) != 0) {
        return CUDA_ERROR_INVALID_VALUE;
    }
    EMU_LOCK();
    emu_ctx *c;
    CUresult rc = emu_enter_locked(&c);
    void *m = MAP_FAILED;
    if (rc == CUDA_SUCCESS) {
        m = mmap(NULL, bytesize, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        rc = m == MAP_FAILED ? CUDA_ERROR_OUT_OF_MEMORY : CUDA_SUCCESS;
    }
    if (rc == CUDA_SUCCESS) {
        rc = insert_locked((emu_host_range){.base = (uint64_t) (uintptr_t) m, .size = bytesize, .flags = Flags,
                                            .allocated = 1, .ctx = c, .buffer_id = emu_id_new_locked()});
        if (rc != CUDA_SUCCESS) {
            munmap(m, bytesize);
        }
    }
    if (rc == CUDA_SUCCESS) {
        *pp = m;
    }
    EMU_UNLOCK();
    return rc;
}

CUresult cuMemAllocHost_v2(void **pp, size_t bytesize) {
    return cuMemHostAlloc(pp, bytesize, 0);
}

CUresult cuMemFreeHost(void *p) {
    return remove_range(p, 1, CUDA_ERROR_INVALID_VALUE);
}

CUresult cuMemHostGetDevicePointer_v2(CUdeviceptr *pdptr, void *p, unsigned int Flags) {
    if (pdptr == NULL || Flags != 0) {
        return CUDA_ERROR_INVALID_VALUE;
    }
    EMU_LOCK();
    emu_ctx *c;
    CUresult rc = emu_enter_locked(&c);
    if (rc == CUDA_SUCCESS && emu_host_find_locked((uint64_t) (uintptr_t) p) == NULL) {
        rc = CUDA_ERROR_INVALID_VALUE;
    }
    if (rc == CUDA_SUCCESS) {
        *pdptr = (CUdeviceptr) (uintptr_t) p; /* unified addressing: the same address */
    }
    EMU_UNLOCK();
    return rc;
}

CUresult cuMemHostGetFlags(unsigned int *pFlags, void *p) {
    if (pFlags == NULL) {
        return CUDA_ERROR_INVALID_VALUE;
    }
    EMU_LOCK();
    emu_ctx *c;
    CUresult rc = emu_enter_locked(&c);
    const emu_host_range *r = rc == CUDA_SUCCESS ? emu_host_find_locked((uint64_t) (uintptr_t) p) : NULL;
    if (rc == CUDA_SUCCESS && (r == NULL || !r->allocated)) {
        rc = CUDA_ERROR_INVALID_VALUE; /* only cuMemAllocHost / cuMemHostAlloc memory has these flags */
    }
    if (rc == CUDA_SUCCESS) {
        *pFlags = r->flags;
    }
    EMU_UNLOCK();
    return rc;
}

unsigned emu_host_reclaim_locked(emu_ctx *c) {
    unsigned n = 0;
    for (size_t i = nranges; i-- > 0;) {
        if (ranges[i].ctx == c) {
            remove_at(i);
            n++;
        }
    }
    return n;
}

void emu_host_count_locked(uint64_t *registrations, uint64_t *allocations) {
    uint64_t a = 0;
    for (size_t i = 0; i < nranges; i++) {
        a += ranges[i].allocated ? 1 : 0;
    }
    *registrations = nranges - a;
    *allocations = a;
}
