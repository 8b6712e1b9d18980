/*
 * Modules and functions.
 *
 * Loading checks the image (image.c) and keeps its kernel table: names and parameter layouts.
 * cuModuleGetFunction finds a name there (else CUDA_ERROR_NOT_FOUND), and checks the layout the
 * image declares against the one the emulator's host build of that kernel reads: a kernel whose
 * parameters changed without the emulator is CUDA_ERROR_INVALID_IMAGE with both layouts on
 * stderr, never a launch that reads the wrong bytes. A kernel the emulator has no host build of
 * is found like any other (a real driver would find it) and refused at launch.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "emu.h"

typedef struct emu_module {
    uintptr_t handle;
    emu_ctx *ctx;
    emu_image image;
    emu_function *functions;
    struct emu_module *next;
} emu_module;

static emu_module *modules;

static emu_module *find_locked(CUmodule h) {
    for (emu_module *m = modules; m != NULL; m = m->next) {
        if (m->handle == (uintptr_t) h) {
            return m;
        }
    }
    return NULL;
}

emu_function *emu_function_find_locked(uintptr_t handle) {
    for (emu_module *m = modules; m != NULL; m = m->next) {
        for (emu_function *f = m->functions; f != NULL; f = f->next) {
            if (f->handle == handle) {
                return f;
            }
        }
    }
    return NULL;
}

emu_ctx *emu_function_ctx_locked(const emu_function *f) {
    return f->module->ctx;
}

static void free_module(emu_module *m) {
    for (emu_function *f = m->functions, *next; f != NULL; f = next) {
        next = f->next;
        free(f);
    }
    emu_image_free(&m->image);
    free(m);
}

static CUresult load(CUmodule *module, const void *image, size_t size) {
    if (module == NULL || image == NULL) {
        return CUDA_ERROR_INVALID_VALUE;
    }
    EMU_LOCK();
    emu_ctx *c;
    CUresult rc = emu_enter_locked(&c);
    EMU_UNLOCK();
    if (rc != CUDA_SUCCESS) {
        return rc;
    }
    emu_module *m = calloc(1, sizeof *m);
    if (m == NULL) {
        return CUDA_ERROR_OUT_OF_MEMORY;
    }
    rc = emu_image_load(image, size, &m->image); /* unlocked: it reads only the caller's bytes */
    EMU_LOCK();
    if (rc == CUDA_SUCCESS) {
        rc = emu_enter_locked(&c);
    }
    if (rc == CUDA_SUCCESS) {
        m->handle = emu_handle_new_locked(EMU_MODULE);
        m->ctx = c;
        m->next = modules;
        modules = m;
        *module = (CUmodule) m->handle;
    } else {
        free_module(m);
    }
    EMU_UNLOCK();
    return rc;
}

CUresult cuModuleLoadData(CUmodule *module, const void *image) {
    return load(module, image, 0);
}

CUresult cuModuleLoadDataEx(CUmodule *module, const void *image, unsigned int numOptions, CUjit_option *options,
                            void **optionValues) {
    if (numOptions > 0 && (options == NULL || optionValues == NULL)) {
        return CUDA_ERROR_INVALID_VALUE;
    }
    return load(module, image, 0); /* JIT options change nothing here */
}

CUresult cuModuleLoadFatBinary(CUmodule *module, const void *fatCubin) {
    return load(module, fatCubin, 0);
}

CUresult cuModuleLoad(CUmodule *module, const char *fname) {
    if (fname == NULL) {
        return CUDA_ERROR_INVALID_VALUE;
    }
    FILE *f = fopen(fname, "rb");
    if (f == NULL) {
        return CUDA_ERROR_FILE_NOT_FOUND;
    }
    char *data = NULL;
    size_t size = 0, cap = 0, n;
    CUresult rc = CUDA_SUCCESS;
    do {
        if (size == cap) {
            char *grown = realloc(data, cap = cap == 0 ? 65536 : cap * 2);
            if (grown == NULL) {
                rc = CUDA_ERROR_OUT_OF_MEMORY;
                break;
            }
            data = grown;
        }
        n = fread(data + size, 1, cap - size, f);
        size += n;
    } while (n > 0);
    fclose(f);
    if (rc == CUDA_SUCCESS) {
        rc = size == 0 ? CUDA_ERROR_INVALID_IMAGE : load(module, data, size);
    }
    free(data);
    return rc;
}

CUresult cuModuleUnload(CUmodule hmod) {
    EMU_LOCK();
    emu_ctx *c;
    CUresult rc = emu_enter_locked(&c);
    emu_module *m = rc == CUDA_SUCCESS ? find_locked(hmod) : NULL;
    if (rc == CUDA_SUCCESS && m == NULL) {
        rc = CUDA_ERROR_INVALID_HANDLE;
    }
    if (rc == CUDA_SUCCESS) {
        for (emu_module **p = &modules; *p != NULL; p = &(*p)->next) {
            if (*p == m) {
                *p = m->next;
                break;
            }
        }
        free_module(m); /* queued launches copied what they need */
    }
    EMU_UNLOCK();
    return rc;
}

static CUresult get_function_locked(emu_module *m, const char *name, CUfunction *hfunc) {
    for (emu_function *f = m->functions; f != NULL; f = f->next) {
        if (strcmp(f->info.name, name) == 0) {
            *hfunc = (CUfunction) f->handle;
            return CUDA_SUCCESS;
        }
    }
    const emu_kernel_info *k = NULL;
    for (int i = 0; i < m->image.nkernels && k == NULL; i++) {
        k = strcmp(m->image.kernels[i].name, name) == 0 ? &m->image.kernels[i] : NULL;
    }
    if (k == NULL) {
        return CUDA_ERROR_NOT_FOUND;
    }
    const emu_host_kernel *impl = emu_host_kernel_find(name);
    if (impl != NULL && !emu_layout_equal(impl, k)) {
        char image[512], host[512];
        emu_layout_format(image, sizeof image, k->nparams, k->params);
        emu_layout_format(host, sizeof host, impl->nparams, impl->params);
        fprintf(stderr, "cuda-emulator: kernel %s: the image's parameter layout (%s, size@offset) differs from "
                "the emulator's host build (%s): rebuild the emulator with the kernel\n", name, image, host);
        return CUDA_ERROR_INVALID_IMAGE;
    }
    emu_function *f = calloc(1, sizeof *f);
    if (f == NULL) {
        return CUDA_ERROR_OUT_OF_MEMORY;
    }
    f->handle = emu_handle_new_locked(EMU_FUNCTION);
    f->module = m;
    f->info = *k;
    f->impl = impl;
    f->next = m->functions;
    m->functions = f;
    *hfunc = (CUfunction) f->handle;
    return CUDA_SUCCESS;
}

CUresult cuModuleGetFunction(CUfunction *hfunc, CUmodule hmod, const char *name) {
    if (hfunc == NULL || name == NULL) {
        return CUDA_ERROR_INVALID_VALUE;
    }
    EMU_LOCK();
    emu_ctx *c;
    CUresult rc = emu_enter_locked(&c);
    emu_module *m = rc == CUDA_SUCCESS ? find_locked(hmod) : NULL;
    if (rc == CUDA_SUCCESS) {
        rc = m == NULL ? CUDA_ERROR_INVALID_HANDLE : get_function_locked(m, name, hfunc);
    }
    EMU_UNLOCK();
    return rc;
}

/* A live function (of any context: these queries need none current). */
static CUresult function_arg_locked(CUfunction h, emu_function **out) {
    CUresult rc = emu_ready_locked();
    if (rc == CUDA_SUCCESS && (*out = emu_function_find_locked((uintptr_t) h)) == NULL) {
        rc = CUDA_ERROR_INVALID_HANDLE;
    }
    return rc;
}

CUresult cuFuncGetAttribute(int *pi, CUfunction_attribute attrib, CUfunction hfunc) {
    if (pi == NULL) {
        return CUDA_ERROR_INVALID_VALUE;
    }
    EMU_LOCK();
    emu_function *f;
    CUresult rc = function_arg_locked(hfunc, &f);
    if (rc == CUDA_SUCCESS) {
        switch (attrib) {
        case CU_FUNC_ATTRIBUTE_MAX_THREADS_PER_BLOCK: *pi = 1024; break;
        case CU_FUNC_ATTRIBUTE_NUM_REGS: *pi = f->info.regs; break;
        case CU_FUNC_ATTRIBUTE_PTX_VERSION: *pi = 90; break;
        case CU_FUNC_ATTRIBUTE_BINARY_VERSION: *pi = 90; break;
        case CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES: *pi = 49152; break;
        case CU_FUNC_ATTRIBUTE_PREFERRED_SHARED_MEMORY_CARVEOUT: *pi = -1; break;
        default: rc = (int) attrib >= 0 && attrib < CU_FUNC_ATTRIBUTE_MAX ? (*pi = 0, CUDA_SUCCESS)
                                                                          : CUDA_ERROR_INVALID_VALUE;
        }
    }
    EMU_UNLOCK();
    return rc;
}

CUresult cuFuncGetModule(CUmodule *hmod, CUfunction hfunc) {
    if (hmod == NULL) {
        return CUDA_ERROR_INVALID_VALUE;
    }
    EMU_LOCK();
    emu_function *f;
    CUresult rc = function_arg_locked(hfunc, &f);
    if (rc == CUDA_SUCCESS) {
        *hmod = (CUmodule) f->module->handle;
    }
    EMU_UNLOCK();
    return rc;
}

unsigned emu_modules_reclaim_locked(emu_ctx *c) {
    unsigned n = 0;
    for (emu_module **p = &modules; *p != NULL;) {
        emu_module *m = *p;
        if (m->ctx == c) {
            *p = m->next;
            free_module(m);
            n++;
        } else {
            p = &m->next;
        }
    }
    return n;
}

uint64_t emu_modules_count_locked(void) {
    uint64_t n = 0;
    for (emu_module *m = modules; m != NULL; m = m->next) {
        n++;
    }
    return n;
}
