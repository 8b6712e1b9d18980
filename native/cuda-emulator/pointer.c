/*
 * cuPointerGetAttribute(s): what unified addressing says about an address.
 *
 * Device memory inside a live allocation is CU_MEMORYTYPE_DEVICE with no host pointer; registered
 * or page-locked host memory is CU_MEMORYTYPE_HOST and its device pointer is itself. Memory CUDA
 * does not know is CUDA_ERROR_INVALID_VALUE for cuPointerGetAttribute (the engine's probe reads it
 * as "not device memory") and all zeros with CUDA_SUCCESS for cuPointerGetAttributes. No current
 * context is needed except for DEVICE_POINTER ("... kernels running in the current CUcontext").
 * Booleans are written as 4-byte unsigned ints, as callers of the real driver read them.
 */
#include <string.h>

#include "emu.h"

typedef struct pointer_info {
    int known;
    unsigned memory_type;
    uintptr_t ctx;
    int device;
    uint64_t base, size, buffer_id;
    unsigned access_flags;
} pointer_info;

static void describe_locked(uint64_t ptr, pointer_info *info) {
    memset(info, 0, sizeof *info);
    const emu_alloc *a = emu_in_reservation(ptr, 1) ? emu_alloc_find_locked(ptr) : NULL;
    if (a != NULL) {
        *info = (pointer_info){1, CU_MEMORYTYPE_DEVICE, a->ctx->handle, a->ctx->device, a->base, a->size,
                               a->buffer_id, 3 /* CU_MEM_ACCESS_FLAGS_PROT_READWRITE */};
        return;
    }
    const emu_host_range *r = a == NULL && !emu_in_reservation(ptr, 1) ? emu_host_find_locked(ptr) : NULL;
    if (r != NULL) {
        int ro = !r->allocated && (r->flags & CU_MEMHOSTREGISTER_READ_ONLY);
        *info = (pointer_info){1, CU_MEMORYTYPE_HOST, r->ctx->handle, r->ctx->device, r->base, r->size,
                               r->buffer_id, ro ? 1u : 3u};
    }
}

#define PUT(type, value) (memcpy(data, &(type){value}, sizeof(type)), CUDA_SUCCESS)

static CUresult attribute(void *data, CUpointer_attribute attr, uint64_t ptr, const pointer_info *i, int has_ctx) {
    if (!i->known) {
        return CUDA_ERROR_INVALID_VALUE;
    }
    switch (attr) {
    case CU_POINTER_ATTRIBUTE_CONTEXT: return PUT(CUcontext, (CUcontext) i->ctx);
    case CU_POINTER_ATTRIBUTE_MEMORY_TYPE: return PUT(unsigned int, i->memory_type);
    case CU_POINTER_ATTRIBUTE_DEVICE_POINTER:
        return has_ctx ? PUT(CUdeviceptr, ptr) : CUDA_ERROR_INVALID_CONTEXT;
    case CU_POINTER_ATTRIBUTE_HOST_POINTER:
        return i->memory_type == CU_MEMORYTYPE_HOST ? PUT(void *, (void *) (uintptr_t) ptr) : CUDA_ERROR_INVALID_VALUE;
    case CU_POINTER_ATTRIBUTE_SYNC_MEMOPS: return PUT(unsigned int, 1u);
    case CU_POINTER_ATTRIBUTE_BUFFER_ID: return PUT(unsigned long long, i->buffer_id);
    case CU_POINTER_ATTRIBUTE_IS_MANAGED: return PUT(unsigned int, 0u);
    case CU_POINTER_ATTRIBUTE_DEVICE_ORDINAL: return PUT(int, i->device);
    case CU_POINTER_ATTRIBUTE_IS_LEGACY_CUDA_IPC_CAPABLE: return PUT(unsigned int, i->memory_type == CU_MEMORYTYPE_DEVICE);
    case CU_POINTER_ATTRIBUTE_RANGE_START_ADDR: return PUT(CUdeviceptr, i->base);
    case CU_POINTER_ATTRIBUTE_RANGE_SIZE: return PUT(size_t, (size_t) i->size);
    case CU_POINTER_ATTRIBUTE_MAPPED: return PUT(unsigned int, 1u);
    case CU_POINTER_ATTRIBUTE_ALLOWED_HANDLE_TYPES: return PUT(unsigned long long, 0ull);
    case CU_POINTER_ATTRIBUTE_IS_GPU_DIRECT_RDMA_CAPABLE: return PUT(unsigned int, 0u);
    case CU_POINTER_ATTRIBUTE_ACCESS_FLAGS: return PUT(unsigned int, i->access_flags);
    case CU_POINTER_ATTRIBUTE_MAPPING_SIZE: return PUT(size_t, (size_t) i->size);
    case CU_POINTER_ATTRIBUTE_MAPPING_BASE_ADDR: return PUT(void *, (void *) (uintptr_t) i->base);
    case CU_POINTER_ATTRIBUTE_MEMORY_BLOCK_ID: return PUT(unsigned long long, i->buffer_id);
    default: return CUDA_ERROR_INVALID_VALUE; /* P2P tokens, mempools, ...: not emulated */
    }
}

/* The zero an attribute reads as for memory CUDA does not know (cuPointerGetAttributes). */
static size_t attribute_size(CUpointer_attribute attr) {
    switch (attr) {
    case CU_POINTER_ATTRIBUTE_CONTEXT:
    case CU_POINTER_ATTRIBUTE_DEVICE_POINTER:
    case CU_POINTER_ATTRIBUTE_HOST_POINTER:
    case CU_POINTER_ATTRIBUTE_BUFFER_ID:
    case CU_POINTER_ATTRIBUTE_RANGE_START_ADDR:
    case CU_POINTER_ATTRIBUTE_RANGE_SIZE:
    case CU_POINTER_ATTRIBUTE_ALLOWED_HANDLE_TYPES:
    case CU_POINTER_ATTRIBUTE_MEMPOOL_HANDLE:
    case CU_POINTER_ATTRIBUTE_MAPPING_SIZE:
    case CU_POINTER_ATTRIBUTE_MAPPING_BASE_ADDR:
    case CU_POINTER_ATTRIBUTE_MEMORY_BLOCK_ID:
        return 8;
    default:
        return 4;
    }
}

/* What the driver knows of ptr, and whether the calling thread has a current context, under the lock. */
static CUresult describe(uint64_t ptr, pointer_info *info, int *has_ctx) {
    EMU_LOCK();
    CUresult rc = emu_ready_locked();
    if (rc == CUDA_SUCCESS) {
        describe_locked(ptr, info);
        emu_ctx *c;
        *has_ctx = emu_current_locked(&c) == CUDA_SUCCESS;
    }
    EMU_UNLOCK();
    return rc;
}

CUresult cuPointerGetAttribute(void *data, CUpointer_attribute attribute_id, CUdeviceptr ptr) {
    if (data == NULL) {
        return CUDA_ERROR_INVALID_VALUE;
    }
    pointer_info info;
    int has_ctx;
    CUresult rc = describe(ptr, &info, &has_ctx);
    return rc == CUDA_SUCCESS ? attribute(data, attribute_id, ptr, &info, has_ctx) : rc;
}

CUresult cuPointerGetAttributes(unsigned int numAttributes, CUpointer_attribute *attributes, void **data,
                                CUdeviceptr ptr) {
    if (numAttributes > 0 && (attributes == NULL || data == NULL)) {
        return CUDA_ERROR_INVALID_VALUE;
    }
    pointer_info info;
    int has_ctx;
    CUresult rc = describe(ptr, &info, &has_ctx);
    for (unsigned i = 0; i < numAttributes && rc == CUDA_SUCCESS; i++) {
        if (data[i] == NULL) {
            rc = CUDA_ERROR_INVALID_VALUE;
        } else if (!info.known || attribute(data[i], attributes[i], ptr, &info, has_ctx) != CUDA_SUCCESS) {
            memset(data[i], 0, attribute_size(attributes[i])); /* "default NULL values" */
        }
    }
    return rc;
}
