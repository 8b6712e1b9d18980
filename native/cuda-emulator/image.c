/*
 * A module image, checked as the driver of an sm_90 GPU would: a fatbin, a cubin (ELF) or PTX.
 *
 *   fatbin header   u32 magic 0xBA55ED50 · u16 version 1 · u16 header size (16) · u64 bytes of entries
 *   fatbin entry    u16 kind (1 PTX, 2 ELF) · u16 version · u32 header size · u64 payload size ·
 *                   ... · u32 at 0x1c: the arch (0x5a = 90); the payload follows the entry header
 *
 * The choice is the driver's: an ELF for exactly sm_90 (SASS runs only on its own major
 * version); else PTX for an arch <= 90, "JIT compiled", whose kernels (names and parameter
 * layouts) the emulator reads from the fatbin's ELF entries of other arches, or from the PTX text
 * itself when it is not compressed; else CUDA_ERROR_NO_BINARY_FOR_GPU. Anything unrecognisable is
 * CUDA_ERROR_INVALID_IMAGE. cuModuleLoadData gets no size, so the size comes from the headers
 * (size 0 here: unknown; cuModuleLoad passes the file's).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "emu.h"

#define FATBIN_MAGIC 0xBA55ED50u
#define FATBIN_WRAPPER_MAGIC 0x466243B1u
#define FATBIN_KIND_PTX 1
#define FATBIN_KIND_ELF 2
#define EMU_ARCH 90
#define IMAGE_MAX ((size_t) 1 << 30)

/* Whether a payload is PTX text (not compressed): after blanks and // comments, a directive. */
static int is_ptx_text(const unsigned char *p, size_t n) {
    size_t i = 0;
    while (i < n) {
        if (p[i] == ' ' || p[i] == '\t' || p[i] == '\r' || p[i] == '\n') {
            i++;
        } else if (i + 1 < n && p[i] == '/' && p[i + 1] == '/') {
            while (i < n && p[i] != '\n') {
                i++;
            }
        } else {
            return p[i] == '.';
        }
    }
    return 0;
}

static CUresult load_fatbin(const unsigned char *f, size_t size, emu_image *out) {
    uint16_t header = emu_le16(f + 6);
    uint64_t entries = emu_le64(f + 8);
    if (emu_le16(f + 4) != 1 || header < 16 || (size != 0 && (header > size || entries > size - header))
        || entries > IMAGE_MAX) {
        return CUDA_ERROR_INVALID_IMAGE;
    }
    const unsigned char *elf90 = NULL, *ptx = NULL, *any_elf = NULL;
    size_t elf90_size = 0, ptx_size = 0, any_elf_size = 0;
    int ptx_arch = -1;
    char arches[128] = "";
    for (uint64_t off = header; off < header + entries;) {
        const unsigned char *e = f + off;
        if (header + entries - off < 0x20) {
            return CUDA_ERROR_INVALID_IMAGE;
        }
        uint16_t kind = emu_le16(e);
        uint32_t eh = emu_le32(e + 4);
        uint64_t payload = emu_le64(e + 8);
        if (eh < 0x20 || eh > header + entries - off || payload > header + entries - off - eh) {
            return CUDA_ERROR_INVALID_IMAGE;
        }
        int arch = (int) emu_le32(e + 0x1c);
        const unsigned char *p = e + eh;
        size_t len = (size_t) payload;
        size_t used = strlen(arches);
        if (kind == FATBIN_KIND_ELF || kind == FATBIN_KIND_PTX) {
            snprintf(arches + used, sizeof arches - used, "%s%s_%d", used ? ", " : "",
                     kind == FATBIN_KIND_ELF ? "sm" : "compute", arch);
        }
        if (kind == FATBIN_KIND_ELF && arch == EMU_ARCH && elf90 == NULL) {
            elf90 = p;
            elf90_size = len;
        } else if (kind == FATBIN_KIND_ELF && any_elf == NULL) {
            any_elf = p;
            any_elf_size = len;
        } else if (kind == FATBIN_KIND_PTX && arch <= EMU_ARCH && arch > ptx_arch) {
            ptx = p;
            ptx_size = len;
            ptx_arch = arch;
        }
        off += eh + payload;
    }
    if (elf90 != NULL) {
        return emu_elf_kernels(elf90, elf90_size, out);
    }
    if (ptx == NULL) {
        fprintf(stderr, "cuda-emulator: no kernel image for sm_90 (the fatbin holds: %s)\n",
                arches[0] ? arches : "nothing");
        return CUDA_ERROR_NO_BINARY_FOR_GPU;
    }
    CUresult rc;
    if (any_elf != NULL) {
        rc = emu_elf_kernels(any_elf, any_elf_size, out);
    } else if (is_ptx_text(ptx, ptx_size)) {
        rc = emu_ptx_kernels((const char *) ptx, ptx_size, out);
    } else {
        fprintf(stderr, "cuda-emulator: the fatbin's compute_%d PTX is compressed and it has no ELF entry: "
                "the emulator cannot read its kernels\n", ptx_arch);
        return CUDA_ERROR_NOT_SUPPORTED;
    }
    out->arch = ptx_arch;
    out->jit = 1;
    return rc;
}

static CUresult load_elf(const unsigned char *elf, size_t size, emu_image *out) {
    int arch = emu_elf_arch(elf, size);
    if (arch < 0) {
        return CUDA_ERROR_INVALID_IMAGE;
    }
    if (arch != EMU_ARCH) {
        fprintf(stderr, "cuda-emulator: no kernel image for sm_90 (the cubin is for sm_%d)\n", arch);
        return CUDA_ERROR_NO_BINARY_FOR_GPU;
    }
    return emu_elf_kernels(elf, size, out);
}

static CUresult load_ptx(const char *ptx, size_t size, emu_image *out) {
    int arch = emu_ptx_arch(ptx, size);
    if (arch < 0) {
        return CUDA_ERROR_INVALID_PTX;
    }
    if (arch > EMU_ARCH) {
        fprintf(stderr, "cuda-emulator: no kernel image for sm_90 (the PTX targets sm_%d)\n", arch);
        return CUDA_ERROR_NO_BINARY_FOR_GPU;
    }
    CUresult rc = emu_ptx_kernels(ptx, size, out);
    out->arch = arch;
    out->jit = 1;
    return rc;
}

CUresult emu_image_load(const void *image, size_t size, emu_image *out) {
    const unsigned char *p = image;
    memset(out, 0, sizeof *out);
    if (p == NULL || (size != 0 && size < 4)) {
        return CUDA_ERROR_INVALID_VALUE;
    }
    if (emu_le32(p) == FATBIN_WRAPPER_MAGIC && size == 0) {
        const void *data; /* __fatBinC_Wrapper_t: int magic, int version, const void *data, ... */
        memcpy(&data, p + 8, sizeof data);
        return data != NULL && data != image ? emu_image_load(data, 0, out) : CUDA_ERROR_INVALID_IMAGE;
    }
    if (emu_le32(p) == FATBIN_MAGIC && (size == 0 || size >= 16)) {
        return load_fatbin(p, size, out);
    }
    if (p[0] == 0x7f && p[1] == 'E' && p[2] == 'L' && p[3] == 'F') {
        return load_elf(p, size, out);
    }
    if (size == 0 && strchr(" \t\r\n/.", p[0]) == NULL) {
        return CUDA_ERROR_INVALID_IMAGE; /* not text: do not look for its end */
    }
    size_t n = size != 0 ? size : strnlen((const char *) p, IMAGE_MAX);
    if (is_ptx_text(p, n)) {
        return load_ptx((const char *) p, n, out);
    }
    return CUDA_ERROR_INVALID_IMAGE;
}

void emu_image_free(emu_image *img) {
    free(img->kernels);
    img->kernels = NULL;
    img->nkernels = 0;
}

uint32_t emu_param_bytes(const emu_kernel_info *k) {
    uint32_t end = 0;
    for (int i = 0; i < k->nparams; i++) {
        uint32_t e = k->params[i].offset + k->params[i].size;
        end = e > end ? e : end;
    }
    return end;
}
