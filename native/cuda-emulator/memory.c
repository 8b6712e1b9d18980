/*
 * Device memory: addresses from a PROT_NONE reservation, bytes in a shadow mapping.
 *
 * Device addresses are handed out from one large PROT_NONE, MAP_NORESERVE range (each device its
 * own sub-range), so no host allocation can ever get such an address and a host dereference of a
 * device pointer dies with SIGSEGV, exactly as on a real GPU. The bytes live in a second,
 * same-sized read-write MAP_NORESERVE mapping that only the emulator touches: device address D
 * is shadow + (D - base). Neither mapping costs memory until written; cuMemFree hands the pages
 * of a freed allocation back (MADV_DONTNEED).
 *
 * Allocations are a sorted array (binary search by address, first fit per device), aligned to
 * a 4 KiB page (cudaMalloc's are 512-byte aligned at least; a page each lets ipc.c map one
 * allocation's bytes alone onto a memfd another process opens). cuMemFree synchronizes the
 * context first, as the real call may: no queued kernel or copy can then reach a freed range.
 * Memory opened from another process (cuIpcOpenMemHandle) is an allocation too, marked
 * imported: cuMemFree refuses it, cuIpcCloseMemHandle removes it.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "emu.h"

static char *base;      /* the PROT_NONE reservation: device addresses */
static char *shadow;    /* the same size, read-write: where the bytes are */
static uint64_t reserved;
static emu_alloc *allocs;
static size_t nallocs, cap;

CUresult emu_memory_reserve(int devices, uint64_t bytes_per_device) {
    uint64_t total = bytes_per_device * (uint64_t) devices;
    void *b = mmap(NULL, total, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (b == MAP_FAILED) {
        return CUDA_ERROR_OUT_OF_MEMORY;
    }
    void *s = mmap(NULL, total, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (s == MAP_FAILED) {
        munmap(b, total);
        return CUDA_ERROR_OUT_OF_MEMORY;
    }
    madvise(s, total, MADV_HUGEPAGE); /* first touch of fresh pages is ~10x faster in huge pages (DESIGN.md) */
    base = b;
    shadow = s;
    reserved = total;
    return CUDA_SUCCESS;
}

int emu_in_reservation(uint64_t addr, uint64_t len) {
    uint64_t lo = (uint64_t) (uintptr_t) base;
    uint64_t end = addr + (len == 0 ? 1 : len);
    return base != NULL && addr < lo + reserved && end > lo;
}

char *emu_shadow(uint64_t device_addr) {
    return shadow + (device_addr - (uint64_t) (uintptr_t) base);
}

/* The index of the first allocation whose base is above addr. */
static size_t upper_bound(uint64_t addr) {
    size_t lo = 0, hi = nallocs;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (allocs[mid].base <= addr) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return lo;
}

const emu_alloc *emu_alloc_find_locked(uint64_t addr) {
    size_t i = upper_bound(addr);
    if (i == 0) {
        return NULL;
    }
    const emu_alloc *a = &allocs[i - 1];
    return addr < a->base + a->size ? a : NULL;
}

static void release_pages(const emu_alloc *a) {
    uint64_t page = 4096;
    char *lo = emu_shadow((a->base + page - 1) & ~(page - 1));
    char *hi = emu_shadow((a->base + a->span) & ~(page - 1));
    if (hi > lo) {
        madvise(lo, (size_t) (hi - lo), MADV_DONTNEED);
    }
}

static void remove_at(size_t i) {
    if (allocs[i].fd >= 0) {
        emu_ipc_close_fd(&allocs[i]);
    } else {
        release_pages(&allocs[i]);
    }
    memmove(&allocs[i], &allocs[i + 1], (nallocs - i - 1) * sizeof *allocs);
    nallocs--;
}

/* First fit in device dev's sub-range; 0 when it is full. */
static uint64_t first_fit(int dev, uint64_t span, size_t *at) {
    uint64_t lo = (uint64_t) (uintptr_t) base + (uint64_t) dev * emu.device_bytes;
    uint64_t hi = lo + emu.device_bytes;
    uint64_t cursor = lo;
    size_t i = upper_bound(lo == 0 ? 0 : lo - 1);
    for (; i < nallocs && allocs[i].base < hi; i++) {
        if (allocs[i].base - cursor >= span) {
            break;
        }
        cursor = allocs[i].base + allocs[i].span;
    }
    *at = i;
    return hi - cursor >= span ? cursor : 0;
}

CUresult emu_alloc_insert_locked(emu_ctx *c, uint64_t bytesize, emu_alloc **out) {
    uint64_t span = (bytesize + EMU_ALLOC_ALIGN - 1) & ~(uint64_t) (EMU_ALLOC_ALIGN - 1);
    size_t at = 0;
    uint64_t addr = 0;
    if (span < bytesize || (addr = first_fit(c->device, span, &at)) == 0) {
        return CUDA_ERROR_OUT_OF_MEMORY;
    }
    if (nallocs == cap) {
        size_t ncap = cap == 0 ? 64 : cap * 2;
        emu_alloc *n = realloc(allocs, ncap * sizeof *n);
        if (n == NULL) {
            return CUDA_ERROR_OUT_OF_MEMORY;
        }
        allocs = n;
        cap = ncap;
    }
    memmove(&allocs[at + 1], &allocs[at], (nallocs - at) * sizeof *allocs);
    allocs[at] = (emu_alloc){.base = addr, .size = bytesize, .span = span, .ctx = c,
                             .buffer_id = emu_id_new_locked(), .fd = -1};
    nallocs++;
    *out = &allocs[at];
    return CUDA_SUCCESS;
}

emu_alloc *emu_alloc_at_locked(uint64_t addr) {
    size_t i = upper_bound(addr);
    return i > 0 && allocs[i - 1].base == addr ? &allocs[i - 1] : NULL;
}

emu_alloc *emu_ipc_find_locked(const emu_ctx *c, uint64_t pid, uint64_t buffer, uint64_t nonce) {
    for (size_t i = 0; i < nallocs; i++) {
        emu_alloc *a = &allocs[i];
        if (a->imported && a->ctx == c && a->origin_pid == pid && a->origin_buffer == buffer && a->nonce == nonce) {
            return a;
        }
    }
    return NULL;
}

void emu_alloc_remove_locked(emu_alloc *a) {
    remove_at((size_t) (a - allocs));
}

int emu_shadow_share(uint64_t addr, uint64_t span, int fd) {
    int flags = fd >= 0 ? MAP_SHARED | MAP_FIXED : MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED;
    return mmap(emu_shadow(addr), span, PROT_READ | PROT_WRITE, flags, fd, 0) == MAP_FAILED ? -1 : 0;
}

CUresult cuMemAlloc_v2(CUdeviceptr *dptr, size_t bytesize) {
    if (dptr == NULL || bytesize == 0) {
        return CUDA_ERROR_INVALID_VALUE;
    }
    EMU_LOCK();
    emu_ctx *c;
    emu_alloc *a = NULL;
    CUresult rc = emu_enter_locked(&c);
    if (rc == CUDA_SUCCESS) {
        rc = emu_alloc_insert_locked(c, bytesize, &a);
    }
    if (rc == CUDA_SUCCESS) {
        *dptr = a->base;
    }
    EMU_UNLOCK();
    return rc;
}

CUresult cuMemFree_v2(CUdeviceptr dptr) {
    EMU_LOCK();
    emu_ctx *c;
    CUresult rc = emu_enter_locked(&c);
    if (rc == CUDA_SUCCESS) {
        const emu_alloc *a = emu_alloc_find_locked(dptr);
        if (a == NULL || a->base != dptr || a->imported) {
            rc = CUDA_ERROR_INVALID_VALUE;
        } else {
            emu_idle_locked(a->ctx);
            a = emu_alloc_find_locked(dptr); /* the wait let other threads in */
            if (a == NULL || a->base != dptr || a->imported) {
                rc = CUDA_ERROR_INVALID_VALUE;
            } else {
                remove_at((size_t) (a - allocs));
            }
        }
    }
    EMU_UNLOCK();
    return rc;
}

CUresult cuMemGetInfo_v2(size_t *free_bytes, size_t *total) {
    EMU_LOCK();
    emu_ctx *c;
    CUresult rc = emu_enter_locked(&c);
    if (rc == CUDA_SUCCESS) {
        uint64_t used = 0;
        for (size_t i = 0; i < nallocs; i++) {
            used += allocs[i].ctx->device == c->device && !allocs[i].imported ? allocs[i].span : 0;
        }
        if (free_bytes != NULL) {
            *free_bytes = emu.device_bytes - used;
        }
        if (total != NULL) {
            *total = emu.device_bytes;
        }
    }
    EMU_UNLOCK();
    return rc;
}

CUresult cuMemGetAddressRange_v2(CUdeviceptr *pbase, size_t *psize, CUdeviceptr dptr) {
    EMU_LOCK();
    emu_ctx *c;
    CUresult rc = emu_enter_locked(&c);
    if (rc == CUDA_SUCCESS) {
        const emu_alloc *a = emu_alloc_find_locked(dptr);
        if (a == NULL) {
            rc = CUDA_ERROR_NOT_FOUND;
        } else {
            if (pbase != NULL) {
                *pbase = a->base;
            }
            if (psize != NULL) {
                *psize = a->size;
            }
        }
    }
    EMU_UNLOCK();
    return rc;
}

unsigned emu_allocs_reclaim_locked(emu_ctx *c) {
    unsigned n = 0;
    for (size_t i = nallocs; i-- > 0;) {
        if (allocs[i].ctx == c) {
            remove_at(i);
            n++;
        }
    }
    return n;
}

void emu_allocs_count_locked(uint64_t *allocations, uint64_t *bytes) {
    uint64_t b = 0;
    for (size_t i = 0; i < nallocs; i++) {
        b += allocs[i].size;
    }
    *allocations = nallocs;
    *bytes = b;
}
