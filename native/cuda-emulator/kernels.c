/*
 * The host builds of the kernels the emulator can run: kv_gather_chunks and kv_scatter_chunks of
 * native/cuda/kv_transfer.cu, with the same index arithmetic (kv_index.h), walked as the GPU
 * would walk it: blockIdx.z (the chunk), blockIdx.y, blockIdx.x over the grid, and every thread of
 * the block calling kv_copy_row with its lane, as kv_host.c does.
 *
 * Nothing here dereferences an address the caller passed. The parameter buffer is the bytes the
 * launch copied at the call (the constant bank image); the chunk table (grid z kv_chunk),
 * layer_caches[] and each chunk's run of slots[] are read through the resolver after their ranges
 * are checked, and each row's raw destination and source (kv_chunk_row's arithmetic on the raw
 * addresses) are resolved for row_bytes before kv_copy_row runs on the resolved pointers. The
 * first access a GPU would fault on stops the kernel; so does a chunk whose from or tokens no
 * launch of the kernel can mean (negative, or more tokens than grid x has blocks: a GPU would
 * silently skip its last rows).
 *
 * Two shortcuts keep a launch cheap, neither changing a byte written: the block's name for a
 * fault message is formatted only when there is a fault, and a lane whose share of a row is empty
 * (lane >= the row's 16-byte or 1-byte units, see kv_copy_row) is not called.
 */
#include <stdio.h>
#include <string.h>

#include "../cuda/kv_index.h"
#include "emu.h"

#define KV_PARAMS {{0, 40}, {40, 8}, {48, 8}, {56, 8}}

static void set_block(emu_access *a, const char *name, unsigned x, unsigned y, unsigned z) {
    snprintf(a->who, sizeof a->who, "kernel %.100s, block (%u,%u,%u)", name, x, y, z);
}

/* Adds what was being read to the resolver's reason, and reports the fault. */
static CUresult fault_reading(emu_access *a, const char *what) {
    size_t used = strlen(a->why);
    snprintf(a->why + used, sizeof a->why - used, " (reading %s)", what);
    return emu_access_fault(a);
}

/* The rows of chunk z: blocks (x < c->tokens, y, z); slots is the request's, resolved for the chunk's run. */
static CUresult kv_chunk_rows(const emu_launch *l, emu_access *mem, emu_access *src_mem, const kv_shape *s,
                              const uint64_t *layer_caches, const int64_t *slots, const kv_chunk *c, unsigned z,
                              int to_page) {
    unsigned threads = l->block[0] * l->block[1] * l->block[2];
    for (unsigned y = 0; y < l->grid[1]; y++) {                 /* blockIdx.y: layer * planes + plane */
        for (unsigned x = 0; x < (unsigned) c->tokens; x++) {   /* blockIdx.x: the token; later x do nothing */
            if (slots[c->from + (int64_t) x] < 0) {
                continue; /* kv_row skips it: nothing else is read */
            }
            if (c->page == 0 || layer_caches[y / (unsigned) s->planes] == 0) {
                set_block(mem, l->name, x, y, z);
                snprintf(mem->why, sizeof mem->why, "illegal address 0x0: a null pointer (the %s)",
                         c->page == 0 ? "chunk's page" : "layer's cache base address");
                return emu_access_fault(mem);
            }
            char *dst = NULL;
            const char *src = NULL;
            kv_chunk_row(s, layer_caches, slots, c, (int) x, (int) y, to_page, &dst, &src);
            char *d = emu_access_resolve(mem, (uint64_t) (uintptr_t) dst, (uint64_t) s->row_bytes, 1);
            if (d == NULL) {
                set_block(mem, l->name, x, y, z);
                return emu_access_fault(mem);
            }
            const char *v = emu_access_resolve(src_mem, (uint64_t) (uintptr_t) src, (uint64_t) s->row_bytes, 0);
            if (v == NULL) {
                set_block(mem, l->name, x, y, z);
                memcpy(mem->why, src_mem->why, sizeof mem->why);
                return emu_access_fault(mem);
            }
            /* The units kv_copy_row strides over: 16-byte ones where everything is aligned, else bytes. */
            uint64_t units = (((uintptr_t) d | (uintptr_t) v | (uint64_t) s->row_bytes) & 15) == 0
                                 ? (uint64_t) s->row_bytes / 16 : (uint64_t) s->row_bytes;
            /* threadIdx: every (y, z) thread row runs lanes 0..blockDim.x of threadIdx.x. */
            unsigned lanes = units < l->block[0] ? (unsigned) units : l->block[0];
            for (unsigned rep = 0; rep < threads / l->block[0]; rep++) {
                for (unsigned lane = 0; lane < lanes; lane++) {
                    kv_copy_row(d, v, s->row_bytes, (int) lane, (int) l->block[0]);
                }
            }
        }
    }
    return CUDA_SUCCESS;
}

static CUresult kv_kernel(const emu_launch *l, emu_access *mem, int to_page) {
    kv_shape s;
    uint64_t layers_addr, slots_addr, chunks_addr;
    memcpy(&s, l->params, sizeof s);
    memcpy(&layers_addr, l->params + 40, 8);
    memcpy(&slots_addr, l->params + 48, 8);
    memcpy(&chunks_addr, l->params + 56, 8);
    set_block(mem, l->name, 0, 0, 0);
    if (s.format < KV_FLASH_ATTN || s.format > KV_MLA || s.planes < 1 || s.planes > 2 || s.layers < 1
        || s.block_size < 1 || s.row_bytes < 0 || s.tokens < 0) {
        snprintf(mem->why, sizeof mem->why, "kv_shape {format %d, planes %d, layers %d, block_size %d, "
                 "row_bytes %lld, tokens %d} is not a shape the kernel can index (it would divide by zero "
                 "or read garbage on the GPU)", s.format, s.planes, s.layers, s.block_size,
                 (long long) s.row_bytes, s.tokens);
        return emu_access_fault(mem);
    }
    if ((slots_addr | layers_addr | chunks_addr) & 7) {
        snprintf(mem->why, sizeof mem->why, "misaligned address: slots 0x%llx, layer_caches 0x%llx and "
                 "chunks 0x%llx must be 8-byte aligned", (unsigned long long) slots_addr,
                 (unsigned long long) layers_addr, (unsigned long long) chunks_addr);
        emu_access_fault(mem);
        return CUDA_ERROR_MISALIGNED_ADDRESS;
    }
    const kv_chunk *chunks = emu_access_resolve(mem, chunks_addr, (uint64_t) l->grid[2] * sizeof(kv_chunk), 0);
    if (chunks == NULL) {
        return fault_reading(mem, "the chunk table: grid z kv_chunk of 16 bytes");
    }
    uint64_t layers_read = ((uint64_t) l->grid[1] + (unsigned) s.planes - 1) / (unsigned) s.planes;
    const uint64_t *layer_caches = emu_access_resolve(mem, layers_addr, layers_read * 8, 0);
    if (layer_caches == NULL) {
        return fault_reading(mem, "layer_caches");
    }
    emu_access src_mem = *mem; /* its own cache: sources and destinations alternate */
    for (unsigned z = 0; z < l->grid[2]; z++) {                 /* blockIdx.z: the chunk */
        kv_chunk c = chunks[z];
        if (c.from < 0 || c.tokens < 0 || (uint32_t) c.tokens > l->grid[0]) {
            set_block(mem, l->name, 0, 0, z);
            int n = snprintf(mem->why, sizeof mem->why, "chunk %u of %u {page 0x%llx, from %d, tokens %d}: ", z,
                             l->grid[2], (unsigned long long) c.page, c.from, c.tokens);
            if (c.from < 0 || c.tokens < 0) {
                snprintf(mem->why + n, sizeof mem->why - (size_t) n, "a negative %s",
                         c.from < 0 ? "from (its slots would lie before the request's slots[])" : "token count");
            } else {
                snprintf(mem->why + n, sizeof mem->why - (size_t) n, "more tokens than the launch's grid x (%u), "
                         "which must be the largest chunk's tokens: its last rows would never be moved", l->grid[0]);
            }
            return emu_access_fault(mem);
        }
        if (c.tokens == 0) {
            continue; /* every block of it does nothing: its slots are not read */
        }
        const int64_t *run = emu_access_resolve(mem, slots_addr + (uint64_t) c.from * 8, (uint64_t) c.tokens * 8, 0);
        if (run == NULL) {
            set_block(mem, l->name, 0, 0, z);
            return fault_reading(mem, "the chunk's slots[from, from + tokens)");
        }
        /* Where slots[0] is in the run's mapping: kv_chunk_row adds c.from back and reads the run only. */
        const int64_t *slots = (const int64_t *) ((uintptr_t) run - (uintptr_t) c.from * 8);
        CUresult rc = kv_chunk_rows(l, mem, &src_mem, &s, layer_caches, slots, &c, z, to_page);
        if (rc != CUDA_SUCCESS) {
            return rc;
        }
    }
    return CUDA_SUCCESS;
}

static CUresult kv_gather_chunks(const emu_launch *l, emu_access *mem) {
    return kv_kernel(l, mem, 1);
}

static CUresult kv_scatter_chunks(const emu_launch *l, emu_access *mem) {
    return kv_kernel(l, mem, 0);
}

static const emu_host_kernel host_kernels[] = {
    {"kv_gather_chunks", 4, KV_PARAMS, kv_gather_chunks},
    {"kv_scatter_chunks", 4, KV_PARAMS, kv_scatter_chunks},
};

const emu_host_kernel *emu_host_kernel_find(const char *name) {
    for (size_t i = 0; i < sizeof host_kernels / sizeof *host_kernels; i++) {
        if (strcmp(host_kernels[i].name, name) == 0) {
            return &host_kernels[i];
        }
    }
    return NULL;
}

int emu_layout_equal(const emu_host_kernel *h, const emu_kernel_info *k) {
    if (h->nparams != k->nparams) {
        return 0;
    }
    for (int i = 0; i < h->nparams; i++) {
        if (h->params[i].offset != k->params[i].offset || h->params[i].size != k->params[i].size) {
            return 0;
        }
    }
    return 1;
}

void emu_layout_format(char *out, size_t cap, int n, const emu_param *params) {
    size_t used = (size_t) snprintf(out, cap, "%d param(s)", n);
    for (int i = 0; i < n && used < cap; i++) {
        used += (size_t) snprintf(out + used, cap - used, "%s%u@%u", i == 0 ? ": " : ", ", params[i].size,
                                  params[i].offset);
    }
}
