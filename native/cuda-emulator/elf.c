/*
 * The kernels of a CUDA ELF (cubin): their names and parameter layouts, as the driver reads them.
 *
 * A kernel is a global STT_FUNC symbol. Its parameters are the EIATTR_KPARAM_INFO records of its
 * section ".nv.info.<name>": each record is u8 format, u8 attribute, then for format 0x04 (a
 * sized value) a u16 size and that many bytes, else a u16 value. KPARAM_INFO (0x17, 12 bytes):
 *
 *   u32 index · u16 ordinal · u16 offset in the parameter buffer · u32 flags, bits 18..31 = size
 *
 * (kv_gather_chunks: ordinal 0 at 0 size 40, the kv_shape; then 8-byte pointers at 40, 48 and 56.)
 * The register count is EIATTR_REGCOUNT (0x2f: u32 symbol index, u32 count) in ".nv.info".
 * Every offset read is checked against the image's size: a bad image is an error, not a crash.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "emu.h"

#define EM_CUDA 190
#define SHT_SYMTAB 2
#define EIFMT_SVAL 0x04
#define EIATTR_KPARAM_INFO 0x17
#define EIATTR_REGCOUNT 0x2f

typedef struct elf {
    const unsigned char *p;
    size_t size;
    uint64_t shoff;
    unsigned shnum, shstrndx;
} elf;

/* The size an ELF of unknown size spans: the furthest of its headers and sections. */
static size_t span_of(const unsigned char *p) {
    uint64_t end = emu_le64(p + 40) + (uint64_t) emu_le16(p + 60) * 64;
    uint64_t ph = emu_le64(p + 32) + (uint64_t) emu_le16(p + 56) * emu_le16(p + 54);
    end = ph > end ? ph : end;
    for (unsigned i = 0; i < emu_le16(p + 60) && end < ((uint64_t) 1 << 30); i++) {
        const unsigned char *sh = p + emu_le64(p + 40) + (uint64_t) i * 64;
        uint64_t e = emu_le32(sh + 4) == 8 /* SHT_NOBITS */ ? 0 : emu_le64(sh + 24) + emu_le64(sh + 32);
        end = e > end ? e : end;
    }
    return (size_t) end;
}

static int open_elf(const unsigned char *p, size_t size, elf *e) {
    if (size == 0) {
        if (p[4] != 2 || p[5] != 1 || emu_le16(p + 18) != EM_CUDA || emu_le16(p + 58) != 64) {
            return -1;
        }
        size = span_of(p);
    }
    if (size < 64 || memcmp(p, "\177ELF", 4) != 0 || p[4] != 2 /* 64-bit */ || p[5] != 1 /* little-endian */
        || emu_le16(p + 18) != EM_CUDA || emu_le16(p + 58) != 64) {
        return -1;
    }
    *e = (elf){.p = p, .size = size, .shoff = emu_le64(p + 40), .shnum = emu_le16(p + 60), .shstrndx = emu_le16(p + 62)};
    if (e->shoff > size || (size - e->shoff) / 64 < e->shnum || e->shstrndx >= e->shnum) {
        return -1;
    }
    return 0;
}

int emu_elf_arch(const unsigned char *p, size_t size) {
    elf e;
    return open_elf(p, size, &e) == 0 ? (int) ((emu_le32(p + 48) >> 8) & 0xff) : -1;
}

static const unsigned char *section(const elf *e, unsigned i) {
    return e->p + e->shoff + (uint64_t) i * 64;
}

/* Section i's bytes, or NULL if they lie outside the image. */
static const unsigned char *section_data(const elf *e, unsigned i, uint64_t *len) {
    const unsigned char *sh = section(e, i);
    uint64_t off = emu_le64(sh + 24), n = emu_le64(sh + 32);
    if (off > e->size || n > e->size - off) {
        return NULL;
    }
    *len = n;
    return e->p + off;
}

/* The NUL-terminated string at offset off of string table section i, or NULL. */
static const char *string_at(const elf *e, unsigned i, uint32_t off) {
    uint64_t n;
    const unsigned char *s = i < e->shnum ? section_data(e, i, &n) : NULL;
    if (s == NULL || off >= n || memchr(s + off, 0, (size_t) (n - off)) == NULL) {
        return NULL;
    }
    return (const char *) s + off;
}

static int find_section(const elf *e, const char *name) {
    for (unsigned i = 0; i < e->shnum; i++) {
        const char *n = string_at(e, e->shstrndx, emu_le32(section(e, i)));
        if (n != NULL && strcmp(n, name) == 0) {
            return (int) i;
        }
    }
    return -1;
}

/* Calls fn for each attribute record of a .nv.info section; -1 if the records overrun it. */
static int each_record(const unsigned char *p, uint64_t n, void (*fn)(void *, int, const unsigned char *, unsigned),
                       void *arg) {
    uint64_t i = 0;
    while (i + 4 <= n) {
        int fmt = p[i], attr = p[i + 1];
        unsigned len = fmt == EIFMT_SVAL ? emu_le16(p + i + 2) : 0;
        if (fmt == EIFMT_SVAL && len > n - i - 4) {
            return -1;
        }
        fn(arg, attr, fmt == EIFMT_SVAL ? p + i + 4 : p + i + 2, fmt == EIFMT_SVAL ? len : 2);
        i += 4 + len;
    }
    return i == n ? 0 : -1;
}

typedef struct params_seen {
    emu_kernel_info *k;
    uint32_t seen;   /* bit per ordinal */
    int bad;
} params_seen;

static void on_param(void *arg, int attr, const unsigned char *v, unsigned len) {
    params_seen *s = arg;
    if (attr != EIATTR_KPARAM_INFO) {
        return;
    }
    unsigned ordinal = len >= 12 ? emu_le16(v + 4) : EMU_MAX_PARAMS;
    if (ordinal >= EMU_MAX_PARAMS || (s->seen & (1u << ordinal))) {
        s->bad = 1;
        return;
    }
    s->seen |= 1u << ordinal;
    s->k->params[ordinal] = (emu_param){.offset = emu_le16(v + 6), .size = (emu_le32(v + 8) >> 18) & 0x3fff};
    s->k->nparams = (int) ordinal + 1 > s->k->nparams ? (int) ordinal + 1 : s->k->nparams;
}

typedef struct regs_seen {
    uint32_t symbol;
    int regs;
} regs_seen;

static void on_regs(void *arg, int attr, const unsigned char *v, unsigned len) {
    regs_seen *r = arg;
    if (attr == EIATTR_REGCOUNT && len >= 8 && emu_le32(v) == r->symbol) {
        r->regs = (int) emu_le32(v + 4);
    }
}

static CUresult read_kernel(const elf *e, const char *name, uint32_t symbol, emu_kernel_info *k) {
    memset(k, 0, sizeof *k);
    if (strlen(name) >= sizeof k->name) {
        return CUDA_ERROR_INVALID_IMAGE;
    }
    strcpy(k->name, name);
    char info[EMU_NAME_MAX + 16];
    snprintf(info, sizeof info, ".nv.info.%s", name);
    int i = find_section(e, info);
    uint64_t n;
    const unsigned char *p;
    if (i >= 0) {
        params_seen s = {.k = k};
        if ((p = section_data(e, (unsigned) i, &n)) == NULL || each_record(p, n, on_param, &s) != 0 || s.bad
            || s.seen != (k->nparams == 32 ? 0xffffffffu : (1u << k->nparams) - 1)) {
            return CUDA_ERROR_INVALID_IMAGE;
        }
    }
    regs_seen r = {.symbol = symbol};
    if ((i = find_section(e, ".nv.info")) >= 0 && (p = section_data(e, (unsigned) i, &n)) != NULL) {
        each_record(p, n, on_regs, &r);
    }
    k->regs = r.regs;
    return CUDA_SUCCESS;
}

CUresult emu_elf_kernels(const unsigned char *p, size_t size, emu_image *out) {
    elf e;
    if (open_elf(p, size, &e) != 0) {
        return CUDA_ERROR_INVALID_IMAGE;
    }
    out->arch = (int) ((emu_le32(p + 48) >> 8) & 0xff);
    for (unsigned i = 0; i < e.shnum; i++) {
        const unsigned char *sh = section(&e, i);
        uint64_t n;
        const unsigned char *syms;
        if (emu_le32(sh + 4) != SHT_SYMTAB || (syms = section_data(&e, i, &n)) == NULL) {
            continue;
        }
        unsigned strtab = emu_le32(sh + 40);
        for (uint64_t j = 0; j + 24 <= n; j += 24) {
            const unsigned char *sym = syms + j;
            if ((sym[4] & 0xf) != 2 /* STT_FUNC */ || (sym[4] >> 4) != 1 /* STB_GLOBAL */ || emu_le16(sym + 6) == 0) {
                continue;
            }
            const char *name = string_at(&e, strtab, emu_le32(sym));
            if (name == NULL) {
                return CUDA_ERROR_INVALID_IMAGE;
            }
            emu_kernel_info *grown = realloc(out->kernels, (size_t) (out->nkernels + 1) * sizeof *grown);
            if (grown == NULL) {
                return CUDA_ERROR_OUT_OF_MEMORY;
            }
            out->kernels = grown;
            CUresult rc = read_kernel(&e, name, (uint32_t) (j / 24), &out->kernels[out->nkernels]);
            if (rc != CUDA_SUCCESS) {
                return rc;
            }
            out->nkernels++;
        }
    }
    return CUDA_SUCCESS;
}
