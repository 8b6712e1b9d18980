/*
 * The calls that ask the current (or a given) context about itself, and cuCtxSynchronize.
 *
 * Queries work in a context that has faulted (they return what is true); cuCtxSynchronize waits
 * for every stream of the context and then returns its sticky error, which is where a fault of
 * asynchronous work surfaces on a real GPU.
 */
#include "emu.h"

#define EMU_CTX_API_VERSION 3020u /* what every context of a current driver reports */
#define EMU_LEAST_PRIORITY 0
#define EMU_GREATEST_PRIORITY (-5)

/* ctx, or the current context where ctx is NULL. */
static CUresult ctx_or_current(CUcontext ctx, emu_ctx **out) {
    if (ctx == NULL) {
        return emu_current_locked(out);
    }
    CUresult rc = emu_ready_locked();
    if (rc != CUDA_SUCCESS) {
        return rc;
    }
    emu_ctx *c = emu_ctx_find_locked((uintptr_t) ctx);
    if (c == NULL) {
        return emu_handle_issued_locked((uintptr_t) ctx, EMU_CONTEXT) ? CUDA_ERROR_CONTEXT_IS_DESTROYED
                                                                      : CUDA_ERROR_INVALID_CONTEXT;
    }
    *out = c;
    return CUDA_SUCCESS;
}

/* What the cuCtxGet* calls report of a context, read under the lock. */
typedef struct ctx_facts {
    int device;
    unsigned flags;
    uint64_t id;
} ctx_facts;

/* The facts of ctx (NULL: the current context, faulted or not), for a getter whose out pointer is out. */
static CUresult ctx_facts_of(CUcontext ctx, const void *out, ctx_facts *f) {
    if (out == NULL) {
        return CUDA_ERROR_INVALID_VALUE;
    }
    EMU_LOCK();
    emu_ctx *c;
    CUresult rc = ctx_or_current(ctx, &c);
    if (rc == CUDA_SUCCESS) {
        *f = (ctx_facts){.device = c->device, .flags = c->flags, .id = c->id};
    }
    EMU_UNLOCK();
    return rc;
}

CUresult cuCtxGetDevice(CUdevice *device) {
    ctx_facts f;
    CUresult rc = ctx_facts_of(NULL, device, &f);
    if (rc == CUDA_SUCCESS) {
        *device = f.device;
    }
    return rc;
}

CUresult cuCtxGetFlags(unsigned int *flags) {
    ctx_facts f;
    CUresult rc = ctx_facts_of(NULL, flags, &f);
    if (rc == CUDA_SUCCESS) {
        *flags = f.flags;
    }
    return rc;
}

CUresult cuCtxGetApiVersion(CUcontext ctx, unsigned int *version) {
    ctx_facts f;
    CUresult rc = ctx_facts_of(ctx, version, &f);
    if (rc == CUDA_SUCCESS) {
        *version = EMU_CTX_API_VERSION;
    }
    return rc;
}

CUresult cuCtxGetId(CUcontext ctx, unsigned long long *ctxId) {
    ctx_facts f;
    CUresult rc = ctx_facts_of(ctx, ctxId, &f);
    if (rc == CUDA_SUCCESS) {
        *ctxId = f.id;
    }
    return rc;
}

CUresult cuCtxGetStreamPriorityRange(int *leastPriority, int *greatestPriority) {
    EMU_LOCK();
    emu_ctx *c;
    CUresult rc = emu_current_locked(&c);
    if (rc == CUDA_SUCCESS) {
        if (leastPriority != NULL) {
            *leastPriority = EMU_LEAST_PRIORITY;
        }
        if (greatestPriority != NULL) {
            *greatestPriority = EMU_GREATEST_PRIORITY;
        }
    }
    EMU_UNLOCK();
    return rc;
}

CUresult cuCtxSynchronize(void) {
    EMU_LOCK();
    emu_ctx *c;
    CUresult rc = emu_enter_locked(&c);
    if (rc == CUDA_SUCCESS) {
        rc = emu_ctx_synchronize_locked(c);
    }
    EMU_UNLOCK();
    return rc;
}
