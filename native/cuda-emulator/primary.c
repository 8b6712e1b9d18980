/*
 * Primary contexts and the teardown of any context.
 *
 * A primary context is one per device and never freed: its handle stays the same across retains,
 * releases and resets (the CUDA runtime and JCuda code alike keep it). It is active while it is
 * retained. Retaining does not make it current (cuda.h: "Unlike cuCtxCreate() the newly retained
 * context is not pushed onto the stack"). Released to zero retains, or reset, it is torn down:
 * its streams drain and stop, and everything it still owned is freed and counted in
 * reclaimed_at_context_destroy. A reset with retains outstanding leaves it active and clean
 * ("Resetting the primary context does not release it"), which is how a test recovers a
 * context from the sticky error of a fault.
 */
#include <stdio.h>

#include "emu.h"

static emu_ctx primaries[EMU_MAX_DEVICES];

emu_ctx *emu_primary_locked(int device) {
    return &primaries[device];
}

void emu_primaries_init_locked(void) {
    for (int d = 0; d < emu.devices; d++) {
        primaries[d] = (emu_ctx){
            .handle = emu_handle_new_locked(EMU_CONTEXT),
            .id = emu_id_new_locked(),
            .device = d,
            .primary = 1,
        };
    }
}

void emu_ctx_teardown_locked(emu_ctx *c) {
    unsigned reclaimed = 0;
    reclaimed += emu_streams_reclaim_locked(c); /* first: drains all work, so nothing runs below */
    reclaimed += emu_events_reclaim_locked(c);
    reclaimed += emu_modules_reclaim_locked(c);
    reclaimed += emu_allocs_reclaim_locked(c);
    reclaimed += emu_host_reclaim_locked(c);
    if (reclaimed > 0) {
        fprintf(stderr, "cuda-emulator: context %llu (%s) was torn down still owning %u resource(s)\n",
                (unsigned long long) c->id, c->primary ? "primary" : "created", reclaimed);
    }
    emu.totals.reclaimed += reclaimed;
    c->sticky = CUDA_SUCCESS;
    emu_broadcast_locked();
}

static CUresult primary_of(CUdevice dev, emu_ctx **out) {
    CUresult rc = emu_device_check_locked(dev);
    if (rc == CUDA_SUCCESS) {
        *out = &primaries[dev];
    }
    return rc;
}

CUresult cuDevicePrimaryCtxRetain(CUcontext *pctx, CUdevice dev) {
    if (pctx == NULL) {
        return CUDA_ERROR_INVALID_VALUE;
    }
    EMU_LOCK();
    emu_ctx *p;
    CUresult rc = primary_of(dev, &p);
    if (rc == CUDA_SUCCESS) {
        p->retains++;
        p->active = 1;
        *pctx = (CUcontext) p->handle;
    }
    EMU_UNLOCK();
    return rc;
}

CUresult cuDevicePrimaryCtxRelease_v2(CUdevice dev) {
    EMU_LOCK();
    emu_ctx *p;
    CUresult rc = primary_of(dev, &p);
    if (rc == CUDA_SUCCESS && p->retains == 0) {
        rc = CUDA_ERROR_INVALID_CONTEXT;
    }
    if (rc == CUDA_SUCCESS && --p->retains == 0) {
        emu_ctx_teardown_locked(p);
        p->active = 0;
    }
    EMU_UNLOCK();
    return rc;
}

CUresult cuDevicePrimaryCtxReset_v2(CUdevice dev) {
    EMU_LOCK();
    emu_ctx *p;
    CUresult rc = primary_of(dev, &p);
    if (rc == CUDA_SUCCESS && p->active) {
        emu_ctx_teardown_locked(p);
        p->active = p->retains > 0;
    }
    EMU_UNLOCK();
    return rc;
}

CUresult cuDevicePrimaryCtxGetState(CUdevice dev, unsigned int *flags, int *active) {
    if (flags == NULL || active == NULL) {
        return CUDA_ERROR_INVALID_VALUE;
    }
    EMU_LOCK();
    emu_ctx *p;
    CUresult rc = primary_of(dev, &p);
    if (rc == CUDA_SUCCESS) {
        *flags = p->flags;
        *active = p->active;
    }
    EMU_UNLOCK();
    return rc;
}

CUresult cuDevicePrimaryCtxSetFlags_v2(CUdevice dev, unsigned int flags) {
    if ((flags & ~(unsigned) CU_CTX_FLAGS_MASK) != 0) {
        return CUDA_ERROR_INVALID_VALUE;
    }
    EMU_LOCK();
    emu_ctx *p;
    CUresult rc = primary_of(dev, &p);
    if (rc == CUDA_SUCCESS) {
        p->flags = flags;
    }
    EMU_UNLOCK();
    return rc;
}
