/*
 * cuLaunchKernel: validate as the driver does, pack the parameters as the CUDA ABI lays them out,
 * and queue the launch on its stream.
 *
 * Parameter i is size_i bytes read from kernelParams[i] and placed at offset_i of the parameter
 * buffer (the image of constant bank 0 the GPU's threads read), with the sizes and offsets from
 * the image's .nv.info (or PTX) declaration; or the whole buffer from `extra`
 * (CU_LAUNCH_PARAM_BUFFER_POINTER / _SIZE / _END). The bytes are copied at the call, as the
 * driver does: the caller may reuse its argument memory as soon as the call returns. Memory the
 * arguments point to is read later, when the stream runs the kernel.
 */
#include <stdio.h>
#include <string.h>

#include "emu.h"

#define MAX_SHARED_BYTES 49152u
#define MAX_PARAM_BYTES 32764u

typedef struct launch_op {
    emu_launch launch;
    const emu_host_kernel *impl;
    unsigned char params[];
} launch_op;

static CUresult run_launch(emu_op *op) {
    launch_op *l = (launch_op *) op->payload;
    l->launch.params = l->params;
    emu_access mem;
    char who[EMU_NAME_MAX + 32];
    snprintf(who, sizeof who, "kernel %s", l->launch.name);
    emu_access_init(&mem, op->stream->ctx, who);
    return l->impl->run(&l->launch, &mem);
}

static CUresult check_dims(unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by, unsigned bz,
                           unsigned shared) {
    if (gx == 0 || gy == 0 || gz == 0 || bx == 0 || by == 0 || bz == 0) {
        return CUDA_ERROR_INVALID_VALUE;
    }
    if (gx > 2147483647u || gy > 65535 || gz > 65535 || bx > 1024 || by > 1024 || bz > 64
        || (uint64_t) bx * by * bz > 1024 || shared > MAX_SHARED_BYTES) {
        return CUDA_ERROR_INVALID_VALUE;
    }
    return CUDA_SUCCESS;
}

/* Copies the arguments into buf (bytes long) from kernelParams or extra. */
static CUresult pack(const emu_kernel_info *k, uint32_t bytes, void **kernelParams, void **extra, unsigned char *buf) {
    if (kernelParams != NULL && extra != NULL) {
        return CUDA_ERROR_INVALID_VALUE;
    }
    if (extra != NULL) {
        const void *data = NULL;
        const size_t *size = NULL;
        for (size_t i = 0; extra[i] != CU_LAUNCH_PARAM_END; i += 2) {
            if (extra[i] == CU_LAUNCH_PARAM_BUFFER_POINTER) {
                data = extra[i + 1];
            } else if (extra[i] == CU_LAUNCH_PARAM_BUFFER_SIZE) {
                size = extra[i + 1];
            } else {
                return CUDA_ERROR_INVALID_VALUE;
            }
        }
        if (data == NULL || size == NULL || *size != bytes) {
            return CUDA_ERROR_INVALID_VALUE;
        }
        memcpy(buf, data, bytes);
        return CUDA_SUCCESS;
    }
    if (k->nparams > 0 && kernelParams == NULL) {
        return CUDA_ERROR_INVALID_VALUE;
    }
    for (int i = 0; i < k->nparams; i++) {
        if (kernelParams[i] == NULL) {
            return CUDA_ERROR_INVALID_VALUE;
        }
        memcpy(buf + k->params[i].offset, kernelParams[i], k->params[i].size);
    }
    return CUDA_SUCCESS;
}

CUresult cuLaunchKernel(CUfunction f, unsigned int gridDimX, unsigned int gridDimY, unsigned int gridDimZ,
                        unsigned int blockDimX, unsigned int blockDimY, unsigned int blockDimZ,
                        unsigned int sharedMemBytes, CUstream hStream, void **kernelParams, void **extra) {
    EMU_LOCK();
    emu_ctx *c;
    emu_stream *s;
    emu_function *fn = NULL;
    emu_op *op = NULL;
    CUresult rc = emu_enter_locked(&c);
    if (rc == CUDA_SUCCESS && ((fn = emu_function_find_locked((uintptr_t) f)) == NULL
                               || emu_function_ctx_locked(fn) != c)) {
        rc = CUDA_ERROR_INVALID_HANDLE;
    }
    if (rc == CUDA_SUCCESS) {
        rc = check_dims(gridDimX, gridDimY, gridDimZ, blockDimX, blockDimY, blockDimZ, sharedMemBytes);
    }
    if (rc == CUDA_SUCCESS) {
        rc = emu_stream_of_ctx_locked(hStream, c, &s);
    }
    uint32_t bytes = rc == CUDA_SUCCESS ? emu_param_bytes(&fn->info) : 0;
    if (rc == CUDA_SUCCESS && bytes > MAX_PARAM_BYTES) {
        rc = CUDA_ERROR_INVALID_IMAGE;
    }
    if (rc == CUDA_SUCCESS && (op = emu_op_new(sizeof(launch_op) + bytes)) == NULL) {
        rc = CUDA_ERROR_OUT_OF_MEMORY;
    }
    launch_op *l = op != NULL ? (launch_op *) op->payload : NULL;
    if (rc == CUDA_SUCCESS) {
        rc = pack(&fn->info, bytes, kernelParams, extra, l->params);
    }
    if (rc == CUDA_SUCCESS && fn->impl == NULL) {
        if (atomic_exchange(&fn->warned, 1) == 0) {
            fprintf(stderr, "cuda-emulator: kernel %s has no host implementation in the emulator; "
                    "cuLaunchKernel returns CUDA_ERROR_NOT_SUPPORTED\n", fn->info.name);
        }
        rc = CUDA_ERROR_NOT_SUPPORTED;
    }
    if (rc == CUDA_SUCCESS) {
        snprintf(l->launch.name, sizeof l->launch.name, "%s", fn->info.name);
        l->launch.grid[0] = gridDimX;
        l->launch.grid[1] = gridDimY;
        l->launch.grid[2] = gridDimZ;
        l->launch.block[0] = blockDimX;
        l->launch.block[1] = blockDimY;
        l->launch.block[2] = blockDimZ;
        l->launch.param_bytes = bytes;
        l->impl = fn->impl;
        op->run = run_launch;
        op->work = 1;
        emu_submit_locked(s, op);
        emu.totals.launches++;
    } else if (op != NULL) {
        emu_op_discard(op);
    }
    EMU_UNLOCK();
    return rc;
}
