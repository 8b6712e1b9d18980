/*
 * What an access from the device side reaches: the one place that turns a device-visible
 * address into a pointer the emulator may touch, or into a fault.
 *
 * Device memory inside one live allocation resolves to its shadow bytes; host memory inside a
 * registered range or a page-locked allocation resolves to itself (unified addressing). Anything
 * else is what a GPU would fault on: unregistered host memory, device memory that is freed or was
 * never allocated, a range that runs past the end of its allocation, device memory of another
 * context (kernels only). A fault is printed (one line naming who, the address and why), counted,
 * kept as the last fault, and returned as CUDA_ERROR_ILLEGAL_ADDRESS, which the stream thread
 * turns into the context's sticky error.
 *
 * The last range resolved is cached: a kernel resolves one or two rows per block, mostly in the
 * same allocations. The cache is safe because freeing waits for queued work first.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "emu.h"

static __thread char fault_copy[EMU_FAULT_MAX];

void emu_access_init(emu_access *a, emu_ctx *ctx, const char *who) {
    memset(a, 0, sizeof *a);
    a->ctx = ctx;
    snprintf(a->who, sizeof a->who, "%s", who);
}

static int fail(emu_access *a, uint64_t addr, const char *why) {
    snprintf(a->why, sizeof a->why, "illegal address 0x%" PRIx64 ": %s", addr, why);
    return 0;
}

/* Sets a's cached range to what [addr, addr+len) lies in, or explains why it is not reachable. */
static int lookup_locked(emu_access *a, uint64_t addr, uint64_t len, int write) {
    if (addr == 0) {
        return fail(a, addr, "a null pointer");
    }
    if (addr + len < addr) {
        return fail(a, addr, "a range that wraps around the address space");
    }
    char why[256];
    if (emu_in_reservation(addr, 1)) {
        const emu_alloc *m = emu_alloc_find_locked(addr);
        if (m == NULL) {
            return fail(a, addr, "device memory that is not allocated (freed, or never allocated)");
        }
        if (a->ctx != NULL && m->ctx != a->ctx) {
            return fail(a, addr, "device memory of another context");
        }
        if (addr + len > m->base + m->size) {
            snprintf(why, sizeof why, "a %" PRIu64 "-byte range that runs past the end of its allocation "
                     "[0x%" PRIx64 ", +%" PRIu64 ")", len, m->base, m->size);
            return fail(a, addr, why);
        }
        a->lo = m->base;
        a->hi = m->base + m->size;
        a->delta = (intptr_t) ((uintptr_t) emu_shadow(m->base) - (uintptr_t) m->base);
        a->writable = 1;
        return 1;
    }
    const emu_host_range *r = emu_host_find_locked(addr);
    if (r == NULL) {
        return fail(a, addr, "host memory that is not registered with cuMemHostRegister "
                             "(nor allocated with cuMemAllocHost)");
    }
    if (addr + len > r->base + r->size) {
        snprintf(why, sizeof why, "a %" PRIu64 "-byte range that runs past the end of its registered host "
                 "range [0x%" PRIx64 ", +%" PRIu64 ")", len, r->base, r->size);
        return fail(a, addr, why);
    }
    if (write && (r->flags & CU_MEMHOSTREGISTER_READ_ONLY) && !r->allocated) {
        return fail(a, addr, "a write to host memory registered CU_MEMHOSTREGISTER_READ_ONLY");
    }
    a->lo = r->base;
    a->hi = r->base + r->size;
    a->delta = 0;
    a->writable = r->allocated || !(r->flags & CU_MEMHOSTREGISTER_READ_ONLY);
    return 1;
}

void *emu_access_resolve(emu_access *a, uint64_t addr, uint64_t len, int write) {
    if (!(a->hi > 0 && addr >= a->lo && addr + len <= a->hi && addr + len >= addr && (a->writable || !write))) {
        EMU_LOCK();
        int ok = lookup_locked(a, addr, len, write);
        EMU_UNLOCK();
        if (!ok) {
            a->lo = a->hi = 0;
            return NULL;
        }
    }
    return (void *) (uintptr_t) (addr + (uint64_t) a->delta);
}

CUresult emu_access_fault(emu_access *a) {
    EMU_LOCK();
    snprintf(emu.last_fault, sizeof emu.last_fault, "%.150s: %.350s", a->who, a->why);
    emu.totals.faults++;
    fprintf(stderr, "cuda-emulator: fault in %s\n", emu.last_fault);
    EMU_UNLOCK();
    return CUDA_ERROR_ILLEGAL_ADDRESS;
}

/*
 * What kind of memory [addr, addr+len) is, at the call. device_side: the argument names device
 * memory (it must be a live allocation, or host memory the device can reach); otherwise host
 * memory (never an address in the device reservation; pageable memory must be mapped).
 */
CUresult emu_classify_locked(uint64_t addr, uint64_t len, int device_side, emu_mem_kind *kind) {
    if (addr == 0 || addr + len < addr) {
        return CUDA_ERROR_INVALID_VALUE;
    }
    if (emu_in_reservation(addr, len)) {
        const emu_alloc *m = emu_alloc_find_locked(addr);
        if (!device_side || m == NULL || addr + len > m->base + m->size) {
            return CUDA_ERROR_INVALID_VALUE;
        }
        *kind = EMU_MEM_DEVICE;
        return CUDA_SUCCESS;
    }
    const emu_host_range *r = emu_host_find_locked(addr);
    if (r != NULL && addr + len <= r->base + r->size) {
        *kind = EMU_MEM_PINNED;
        return CUDA_SUCCESS;
    }
    if (device_side || !emu_host_mapped(addr, len)) {
        return CUDA_ERROR_INVALID_VALUE;
    }
    *kind = EMU_MEM_PAGEABLE;
    return CUDA_SUCCESS;
}

const char *lmcache4j_cuda_emulator_last_fault(void) {
    EMU_LOCK();
    memcpy(fault_copy, emu.last_fault, sizeof fault_copy);
    EMU_UNLOCK();
    return fault_copy;
}
