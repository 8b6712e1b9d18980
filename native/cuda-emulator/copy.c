/*
 * Copies, with the real driver's rules about when the caller's memory is read or written.
 *
 * At the call each side is classified (resolve.c): device memory must lie inside one live
 * allocation, a "host" argument must not be in the device reservation; else
 * CUDA_ERROR_INVALID_VALUE. Synchronous copies go through the context's legacy default stream
 * (so they are ordered after earlier work of its blocking streams) and return when done. An async
 * copy from pageable host memory snapshots the source at the call, so the caller may reuse it at
 * once; an async copy to pageable host memory returns only once it is done; with page-locked
 * memory (registered, or cuMemAllocHost) it is truly asynchronous: the bytes are read or written
 * when the stream reaches the op, which is what the stream delay makes visible.
 */
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "emu.h"

typedef struct copy_op {
    uint64_t dst, src, bytes;
    emu_mem_kind dst_kind, src_kind;
    void *snapshot;               /* the pageable source, copied at the call */
    const char *api;
} copy_op;

/* dst / src roles: what each side must be (device side, host side, or either: cuMemcpy). */
enum side { DEVICE_SIDE, HOST_SIDE, ANY_SIDE };

static void *side_pointer(emu_access *a, uint64_t addr, uint64_t len, emu_mem_kind kind, int write) {
    return kind == EMU_MEM_PAGEABLE ? (void *) (uintptr_t) addr : emu_access_resolve(a, addr, len, write);
}

static CUresult run_copy(emu_op *op) {
    copy_op *c = (copy_op *) op->payload;
    char who[96];
    snprintf(who, sizeof who, "%s (stream thread)", c->api);
    emu_access a;
    emu_access_init(&a, NULL, who);
    void *d = side_pointer(&a, c->dst, c->bytes, c->dst_kind, 1);
    if (d == NULL) {
        return emu_access_fault(&a);
    }
    emu_access b = a;
    const void *s = c->snapshot;
    if (s == NULL) {
        if ((s = side_pointer(&b, c->src, c->bytes, c->src_kind, 0)) == NULL) {
            return emu_access_fault(&b);
        }
    }
    memmove(d, s, (size_t) c->bytes);
    return CUDA_SUCCESS;
}

static void release_copy(emu_op *op) {
    free(((copy_op *) op->payload)->snapshot);
}

static CUresult classify(uint64_t addr, uint64_t len, enum side side, emu_mem_kind *kind) {
    if (side == ANY_SIDE) {
        side = emu_in_reservation(addr, 1) ? DEVICE_SIDE : HOST_SIDE;
    }
    return emu_classify_locked(addr, len, side == DEVICE_SIDE, kind);
}

/* hStream NULL with sync: the legacy stream, waiting for the copy. */
static CUresult copy(const char *api, uint64_t dst, enum side dst_side, uint64_t src, enum side src_side,
                     size_t bytes, CUstream hStream, int sync) {
    EMU_LOCK();
    emu_ctx *c;
    emu_stream *s;
    emu_mem_kind dk = EMU_MEM_DEVICE, sk = EMU_MEM_DEVICE;
    emu_op *op = NULL;
    CUresult rc = emu_enter_locked(&c);
    if (rc == CUDA_SUCCESS) {
        rc = emu_stream_of_ctx_locked(sync ? CU_STREAM_LEGACY : hStream, c, &s);
    }
    if (rc == CUDA_SUCCESS && bytes == 0) {
        EMU_UNLOCK();
        return CUDA_SUCCESS;
    }
    if (rc == CUDA_SUCCESS && (rc = classify(dst, bytes, dst_side, &dk)) == CUDA_SUCCESS) {
        rc = classify(src, bytes, src_side, &sk);
    }
    if (rc == CUDA_SUCCESS && (op = emu_op_new(sizeof(copy_op))) == NULL) {
        rc = CUDA_ERROR_OUT_OF_MEMORY;
    }
    copy_op *cp = op != NULL ? (copy_op *) op->payload : NULL;
    if (rc == CUDA_SUCCESS && sk == EMU_MEM_PAGEABLE && !sync) {
        if ((cp->snapshot = malloc(bytes)) == NULL) {
            rc = CUDA_ERROR_OUT_OF_MEMORY;
        } else {
            memcpy(cp->snapshot, (const void *) (uintptr_t) src, bytes);
        }
    }
    if (rc != CUDA_SUCCESS) {
        if (op != NULL) {
            emu_op_discard(op);
        }
        EMU_UNLOCK();
        return rc;
    }
    *cp = (copy_op){.dst = dst, .src = src, .bytes = bytes, .dst_kind = dk, .src_kind = sk, .snapshot = cp->snapshot, .api = api};
    if (sk == EMU_MEM_PAGEABLE && sync) {
        cp->snapshot = NULL; /* read in place: the caller waits */
    }
    op->run = run_copy;
    op->release = release_copy;
    op->work = 1;
    emu.totals.copies++;
    uint64_t seq = emu_submit_locked(s, op);
    if (sync || dk == EMU_MEM_PAGEABLE) {
        rc = emu_stream_wait_locked(s, seq);
    }
    EMU_UNLOCK();
    return rc;
}

CUresult cuMemcpy(CUdeviceptr dst, CUdeviceptr src, size_t ByteCount) {
    return copy("cuMemcpy", dst, ANY_SIDE, src, ANY_SIDE, ByteCount, NULL, 1);
}

CUresult cuMemcpyAsync(CUdeviceptr dst, CUdeviceptr src, size_t ByteCount, CUstream hStream) {
    return copy("cuMemcpyAsync", dst, ANY_SIDE, src, ANY_SIDE, ByteCount, hStream, 0);
}

CUresult cuMemcpyHtoD_v2(CUdeviceptr dstDevice, const void *srcHost, size_t ByteCount) {
    return copy("cuMemcpyHtoD", dstDevice, DEVICE_SIDE, (uint64_t) (uintptr_t) srcHost, HOST_SIDE, ByteCount, NULL, 1);
}

CUresult cuMemcpyDtoH_v2(void *dstHost, CUdeviceptr srcDevice, size_t ByteCount) {
    return copy("cuMemcpyDtoH", (uint64_t) (uintptr_t) dstHost, HOST_SIDE, srcDevice, DEVICE_SIDE, ByteCount, NULL, 1);
}

CUresult cuMemcpyDtoD_v2(CUdeviceptr dstDevice, CUdeviceptr srcDevice, size_t ByteCount) {
    return copy("cuMemcpyDtoD", dstDevice, DEVICE_SIDE, srcDevice, DEVICE_SIDE, ByteCount, NULL, 1);
}

CUresult cuMemcpyHtoDAsync_v2(CUdeviceptr dstDevice, const void *srcHost, size_t ByteCount, CUstream hStream) {
    return copy("cuMemcpyHtoDAsync", dstDevice, DEVICE_SIDE, (uint64_t) (uintptr_t) srcHost, HOST_SIDE, ByteCount,
                hStream, 0);
}

CUresult cuMemcpyDtoHAsync_v2(void *dstHost, CUdeviceptr srcDevice, size_t ByteCount, CUstream hStream) {
    return copy("cuMemcpyDtoHAsync", (uint64_t) (uintptr_t) dstHost, HOST_SIDE, srcDevice, DEVICE_SIDE, ByteCount,
                hStream, 0);
}

CUresult cuMemcpyDtoDAsync_v2(CUdeviceptr dstDevice, CUdeviceptr srcDevice, size_t ByteCount, CUstream hStream) {
    return copy("cuMemcpyDtoDAsync", dstDevice, DEVICE_SIDE, srcDevice, DEVICE_SIDE, ByteCount, hStream, 0);
}
