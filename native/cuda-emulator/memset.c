/*
 * cuMemsetD8/D16/D32 and their Async forms: a stream op that fills device memory.
 *
 * Validated at the call like a copy's device side (inside one live allocation, or host memory
 * the device can reach; D16/D32 need an aligned destination), and filled when the stream reaches
 * the op. The synchronous forms run on the legacy default stream and return when done.
 */
#include <stdio.h>
#include <string.h>

#include "emu.h"

typedef struct memset_op {
    uint64_t dst, count;
    uint32_t value;
    unsigned elem;
    const char *api;
} memset_op;

static CUresult run_memset(emu_op *op) {
    memset_op *m = (memset_op *) op->payload;
    emu_access a;
    char who[96];
    snprintf(who, sizeof who, "%s (stream thread)", m->api);
    emu_access_init(&a, NULL, who);
    unsigned char *d = emu_access_resolve(&a, m->dst, m->count * m->elem, 1);
    if (d == NULL) {
        return emu_access_fault(&a);
    }
    if (m->elem == 1) {
        memset(d, (int) (m->value & 0xff), (size_t) m->count);
    } else {
        for (uint64_t i = 0; i < m->count; i++) {
            memcpy(d + i * m->elem, &m->value, m->elem); /* little-endian: the low bytes */
        }
    }
    return CUDA_SUCCESS;
}

static CUresult fill(const char *api, CUdeviceptr dst, uint32_t value, unsigned elem, size_t count, CUstream hStream,
                     int sync) {
    EMU_LOCK();
    emu_ctx *c;
    emu_stream *s;
    emu_mem_kind kind;
    emu_op *op = NULL;
    CUresult rc = emu_enter_locked(&c);
    if (rc == CUDA_SUCCESS) {
        rc = emu_stream_of_ctx_locked(sync ? CU_STREAM_LEGACY : hStream, c, &s);
    }
    if (rc == CUDA_SUCCESS && count == 0) {
        EMU_UNLOCK();
        return CUDA_SUCCESS;
    }
    if (rc == CUDA_SUCCESS && (dst % elem != 0 || count > UINT64_MAX / elem)) {
        rc = CUDA_ERROR_INVALID_VALUE;
    }
    if (rc == CUDA_SUCCESS) {
        rc = emu_classify_locked(dst, (uint64_t) count * elem, 1, &kind);
    }
    if (rc == CUDA_SUCCESS && (op = emu_op_new(sizeof(memset_op))) == NULL) {
        rc = CUDA_ERROR_OUT_OF_MEMORY;
    }
    if (rc == CUDA_SUCCESS) {
        *(memset_op *) op->payload = (memset_op){.dst = dst, .count = count, .value = value, .elem = elem, .api = api};
        op->run = run_memset;
        op->work = 1;
        uint64_t seq = emu_submit_locked(s, op);
        if (sync) {
            rc = emu_stream_wait_locked(s, seq);
        }
    }
    EMU_UNLOCK();
    return rc;
}

CUresult cuMemsetD8_v2(CUdeviceptr dstDevice, unsigned char uc, size_t N) {
    return fill("cuMemsetD8", dstDevice, uc, 1, N, NULL, 1);
}

CUresult cuMemsetD16_v2(CUdeviceptr dstDevice, unsigned short us, size_t N) {
    return fill("cuMemsetD16", dstDevice, us, 2, N, NULL, 1);
}

CUresult cuMemsetD32_v2(CUdeviceptr dstDevice, unsigned int ui, size_t N) {
    return fill("cuMemsetD32", dstDevice, ui, 4, N, NULL, 1);
}

CUresult cuMemsetD8Async(CUdeviceptr dstDevice, unsigned char uc, size_t N, CUstream hStream) {
    return fill("cuMemsetD8Async", dstDevice, uc, 1, N, hStream, 0);
}

CUresult cuMemsetD16Async(CUdeviceptr dstDevice, unsigned short us, size_t N, CUstream hStream) {
    return fill("cuMemsetD16Async", dstDevice, us, 2, N, hStream, 0);
}

CUresult cuMemsetD32Async(CUdeviceptr dstDevice, unsigned int ui, size_t N, CUstream hStream) {
    return fill("cuMemsetD32Async", dstDevice, ui, 4, N, hStream, 0);
}
