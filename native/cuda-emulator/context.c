/*
 * Created contexts and each thread's stack of current contexts.
 *
 * The stack is thread-local and holds handles, never pointers: a context destroyed while other
 * threads still have it current stays on their stacks as a handle that no longer resolves, and
 * their next call gets CUDA_ERROR_CONTEXT_IS_DESTROYED, as cuda.h documents for cuCtxDestroy.
 * Every call that needs a context goes through emu_enter_locked, which also returns the sticky
 * error of a context in which a kernel or a copy met an illegal address.
 */
#include <stdlib.h>

#include "emu.h"

#define CTX_STACK_MAX 64

static __thread uintptr_t ctx_stack[CTX_STACK_MAX];
static __thread int ctx_depth;
static emu_ctx *created; /* the created contexts alive */

emu_ctx *emu_ctx_find_locked(uintptr_t handle) {
    for (int d = 0; d < emu.devices; d++) {
        emu_ctx *p = emu_primary_locked(d);
        if (p->handle == handle) {
            return p;
        }
    }
    for (emu_ctx *c = created; c != NULL; c = c->next) {
        if (c->handle == handle) {
            return c;
        }
    }
    return NULL;
}

CUresult emu_current_locked(emu_ctx **out) {
    CUresult rc = emu_ready_locked();
    if (rc != CUDA_SUCCESS) {
        return rc;
    }
    if (ctx_depth == 0) {
        return CUDA_ERROR_INVALID_CONTEXT;
    }
    emu_ctx *c = emu_ctx_find_locked(ctx_stack[ctx_depth - 1]);
    if (c == NULL) {
        return CUDA_ERROR_CONTEXT_IS_DESTROYED; /* only issued handles are ever pushed */
    }
    if (!c->active) {
        return CUDA_ERROR_CONTEXT_IS_DESTROYED; /* a primary context released to zero */
    }
    *out = c;
    return CUDA_SUCCESS;
}

CUresult emu_enter_locked(emu_ctx **out) {
    emu_ctx *c;
    CUresult rc = emu_current_locked(&c);
    if (rc == CUDA_SUCCESS && c->sticky != CUDA_SUCCESS) {
        rc = c->sticky;
    }
    if (rc == CUDA_SUCCESS) {
        *out = c;
    }
    return rc;
}

void emu_ctx_forget_current(uintptr_t handle) {
    if (ctx_depth > 0 && ctx_stack[ctx_depth - 1] == handle) {
        ctx_depth--;
    }
}

/* A handle that may be made current: a live context, or a primary one (active or not). */
static CUresult settable_locked(CUcontext ctx) {
    CUresult rc = emu_ready_locked();
    if (rc == CUDA_SUCCESS && emu_ctx_find_locked((uintptr_t) ctx) == NULL) {
        rc = CUDA_ERROR_INVALID_CONTEXT;
    }
    return rc;
}

CUresult cuCtxCreate_v2(CUcontext *pctx, unsigned int flags, CUdevice dev) {
    if (pctx == NULL || (flags & ~(unsigned) CU_CTX_FLAGS_MASK) != 0) {
        return CUDA_ERROR_INVALID_VALUE;
    }
    EMU_LOCK();
    CUresult rc = emu_device_check_locked(dev);
    if (rc == CUDA_SUCCESS && ctx_depth == CTX_STACK_MAX) {
        rc = CUDA_ERROR_OUT_OF_MEMORY;
    }
    emu_ctx *c = NULL;
    if (rc == CUDA_SUCCESS && (c = calloc(1, sizeof *c)) == NULL) {
        rc = CUDA_ERROR_OUT_OF_MEMORY;
    }
    if (rc == CUDA_SUCCESS) {
        c->handle = emu_handle_new_locked(EMU_CONTEXT);
        c->id = emu_id_new_locked();
        c->device = dev;
        c->flags = flags;
        c->active = 1;
        c->next = created;
        created = c;
        ctx_stack[ctx_depth++] = c->handle;
        *pctx = (CUcontext) c->handle;
    }
    EMU_UNLOCK();
    return rc;
}

/* CUDA 13's form: no execution affinity or CIG, so params must be NULL or empty. */
CUresult cuCtxCreate_v4(CUcontext *pctx, CUctxCreateParams *params, unsigned int flags, CUdevice dev) {
    if (params != NULL && (params->numExecAffinityParams != 0 || params->cigParams != NULL)) {
        return CUDA_ERROR_NOT_SUPPORTED;
    }
    return cuCtxCreate_v2(pctx, flags, dev);
}

CUresult cuCtxDestroy_v2(CUcontext ctx) {
    EMU_LOCK();
    CUresult rc = emu_ready_locked();
    emu_ctx *c = rc == CUDA_SUCCESS ? emu_ctx_find_locked((uintptr_t) ctx) : NULL;
    if (rc == CUDA_SUCCESS && (c == NULL || c->primary)) {
        rc = CUDA_ERROR_INVALID_CONTEXT; /* primary contexts are released or reset, not destroyed */
    }
    if (rc == CUDA_SUCCESS) {
        emu_ctx_teardown_locked(c);
        for (emu_ctx **p = &created; *p != NULL; p = &(*p)->next) {
            if (*p == c) {
                *p = c->next;
                break;
            }
        }
        emu_ctx_forget_current(c->handle);
        free(c);
    }
    EMU_UNLOCK();
    return rc;
}

CUresult cuCtxPushCurrent_v2(CUcontext ctx) {
    EMU_LOCK();
    CUresult rc = settable_locked(ctx);
    if (rc == CUDA_SUCCESS && ctx_depth == CTX_STACK_MAX) {
        rc = CUDA_ERROR_OUT_OF_MEMORY;
    }
    if (rc == CUDA_SUCCESS) {
        ctx_stack[ctx_depth++] = (uintptr_t) ctx;
    }
    EMU_UNLOCK();
    return rc;
}

CUresult cuCtxPopCurrent_v2(CUcontext *pctx) {
    EMU_LOCK();
    CUresult rc = emu_ready_locked();
    if (rc == CUDA_SUCCESS && ctx_depth == 0) {
        rc = CUDA_ERROR_INVALID_CONTEXT;
    }
    if (rc == CUDA_SUCCESS) {
        uintptr_t h = ctx_stack[--ctx_depth];
        if (pctx != NULL) {
            *pctx = (CUcontext) h;
        }
    }
    EMU_UNLOCK();
    return rc;
}

CUresult cuCtxSetCurrent(CUcontext ctx) {
    EMU_LOCK();
    CUresult rc = emu_ready_locked();
    if (rc == CUDA_SUCCESS && ctx == NULL) {
        if (ctx_depth > 0) {
            ctx_depth--;
        }
    } else if (rc == CUDA_SUCCESS && (rc = settable_locked(ctx)) == CUDA_SUCCESS) {
        if (ctx_depth == 0) {
            ctx_depth = 1;
        }
        ctx_stack[ctx_depth - 1] = (uintptr_t) ctx;
    }
    EMU_UNLOCK();
    return rc;
}

CUresult cuCtxGetCurrent(CUcontext *pctx) {
    if (pctx == NULL) {
        return CUDA_ERROR_INVALID_VALUE;
    }
    CUresult rc = emu_ready(); /* the stack is the calling thread's own */
    if (rc == CUDA_SUCCESS) {
        *pctx = ctx_depth == 0 ? NULL : (CUcontext) ctx_stack[ctx_depth - 1];
    }
    return rc;
}

void emu_ctx_count_locked(uint64_t *contexts, uint64_t *retains) {
    uint64_t n = 0, r = 0;
    for (int d = 0; d < emu.devices; d++) {
        emu_ctx *p = emu_primary_locked(d);
        n += p->active ? 1 : 0;
        r += p->retains;
    }
    for (emu_ctx *c = created; c != NULL; c = c->next) {
        n++;
    }
    *contexts = n;
    *retains = r;
}
