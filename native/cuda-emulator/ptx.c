/*
 * The kernels of PTX text: `.target sm_XX` and each `.entry name ( .param ..., ... )`.
 *
 * This is what the driver's JIT would learn from the text before compiling it: the entry names
 * and the parameter buffer layout, which follows the CUDA ABI (each parameter at the next offset
 * aligned to its .align, or to its element size; arrays `name[n]` take n elements):
 *
 *   .param .align 8 .b8 kv_gather_param_0[40]   -> offset 0,  size 40
 *   .param .u64 kv_gather_param_1               -> offset 40, size 8
 *
 * A tokenizer over the bounded text skips // and block comments; nothing reads past `size`.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "emu.h"

typedef struct lexer {
    const char *p, *end;
} lexer;

static void skip_blank(lexer *x) {
    while (x->p < x->end) {
        if (isspace((unsigned char) *x->p)) {
            x->p++;
        } else if (x->end - x->p >= 2 && x->p[0] == '/' && x->p[1] == '/') {
            while (x->p < x->end && *x->p != '\n') {
                x->p++;
            }
        } else if (x->end - x->p >= 2 && x->p[0] == '/' && x->p[1] == '*') {
            x->p += 2;
            while (x->end - x->p >= 2 && !(x->p[0] == '*' && x->p[1] == '/')) {
                x->p++;
            }
            x->p = x->end - x->p >= 2 ? x->p + 2 : x->end;
        } else {
            return;
        }
    }
}

/* The next token: an identifier or directive ([.%$_A-Za-z0-9]+), or one punctuation character. */
static size_t next_token(lexer *x, char *out, size_t cap) {
    skip_blank(x);
    size_t n = 0;
    while (x->p < x->end && (isalnum((unsigned char) *x->p) || strchr("._$%", *x->p) != NULL) && *x->p != '\0') {
        if (n + 1 < cap) {
            out[n++] = *x->p;
        }
        x->p++;
    }
    if (n == 0 && x->p < x->end && *x->p != '\0') {
        out[n++] = *x->p++;
    }
    out[n] = '\0';
    return n;
}

int emu_ptx_arch(const char *ptx, size_t size) {
    lexer x = {ptx, ptx + size};
    char t[EMU_NAME_MAX];
    while (next_token(&x, t, sizeof t) > 0) {
        if (strcmp(t, ".target") == 0) {
            next_token(&x, t, sizeof t);
            return strncmp(t, "sm_", 3) == 0 && isdigit((unsigned char) t[3]) ? atoi(t + 3) : -1;
        }
    }
    return -1;
}

static int type_size(const char *t) {
    if (t[0] != '.' || strchr("busf", t[1]) == NULL) {
        return 0;
    }
    int bits = atoi(t + 2 + (t[1] == 'b' && t[2] == 'f' ? 1 : 0));
    return bits == 8 || bits == 16 || bits == 32 || bits == 64 || bits == 128 ? bits / 8 : 0;
}

/* One `.param` after its keyword: qualifiers, a type, a name, maybe [n]; the layout is appended. */
static int read_param(lexer *x, emu_kernel_info *k, uint32_t *cursor) {
    char t[EMU_NAME_MAX];
    uint32_t align = 0, elem = 0;
    for (;;) {
        if (next_token(x, t, sizeof t) == 0) {
            return -1;
        }
        if (strcmp(t, ".align") == 0) {
            next_token(x, t, sizeof t);
            align = (uint32_t) atoi(t);
        } else if (type_size(t) > 0 && elem == 0) {
            elem = (uint32_t) type_size(t);
        } else if (t[0] != '.') {
            break; /* the parameter's name */
        }
    }
    uint32_t count = 1;
    lexer peek = *x;
    if (next_token(&peek, t, sizeof t) == 1 && t[0] == '[') {
        next_token(&peek, t, sizeof t);
        count = (uint32_t) atoi(t);
        if (next_token(&peek, t, sizeof t) != 1 || t[0] != ']') {
            return -1;
        }
        *x = peek;
    }
    align = align != 0 ? align : elem;
    if (elem == 0 || count == 0 || (align & (align - 1)) != 0 || k->nparams == EMU_MAX_PARAMS) {
        return -1;
    }
    uint32_t offset = (*cursor + align - 1) & ~(align - 1);
    k->params[k->nparams++] = (emu_param){.offset = offset, .size = elem * count};
    *cursor = offset + elem * count;
    return 0;
}

static int read_entry(lexer *x, emu_kernel_info *k) {
    char t[EMU_NAME_MAX];
    memset(k, 0, sizeof *k);
    if (next_token(x, k->name, sizeof k->name) == 0 || !(isalpha((unsigned char) k->name[0]) || k->name[0] == '_')) {
        return -1;
    }
    lexer peek = *x;
    if (next_token(&peek, t, sizeof t) != 1 || t[0] != '(') {
        return 0; /* no parameter list */
    }
    *x = peek;
    uint32_t cursor = 0;
    for (;;) {
        if (next_token(x, t, sizeof t) == 0) {
            return -1;
        }
        if (strcmp(t, ")") == 0) {
            return 0;
        }
        if (strcmp(t, ",") == 0) {
            continue;
        }
        if (strcmp(t, ".param") != 0 || read_param(x, k, &cursor) != 0) {
            return -1;
        }
    }
}

CUresult emu_ptx_kernels(const char *ptx, size_t size, emu_image *out) {
    lexer x = {ptx, ptx + size};
    char t[EMU_NAME_MAX];
    while (next_token(&x, t, sizeof t) > 0) {
        if (strcmp(t, ".entry") != 0) {
            continue;
        }
        emu_kernel_info *grown = realloc(out->kernels, (size_t) (out->nkernels + 1) * sizeof *grown);
        if (grown == NULL) {
            return CUDA_ERROR_OUT_OF_MEMORY;
        }
        out->kernels = grown;
        if (read_entry(&x, &out->kernels[out->nkernels]) != 0) {
            return CUDA_ERROR_INVALID_PTX;
        }
        out->nkernels++;
    }
    return CUDA_SUCCESS;
}
