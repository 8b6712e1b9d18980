/*
 * The emulator's internal header: its objects and the calls between its files.
 *
 * One mutex (emu.lock) guards every registry and every stream queue, and one condition variable
 * (emu.cv) is broadcast on every change anybody may wait for (an op done, an op queued, a stream
 * thread gone). A driver that runs on the CPU for tests gains nothing from finer locks, and one
 * lock leaves no lock order to get wrong. Functions named *_locked expect the lock held; they may
 * wait on emu.cv, which releases it, so a caller re-validates what it holds across such a call.
 *
 * Handles are never pointers: each is a serial number tagged with its kind (emu_handle_new), and
 * every call looks it up in the live registry of that kind. A stale, foreign or garbage handle
 * is therefore an error code, never a crash, and "destroyed" (issued once, not live now) is told
 * apart from "never issued".
 */
#ifndef EMU_H
#define EMU_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "cuda_api.h"

#define EMU_MAX_DEVICES 8
#define EMU_ALLOC_ALIGN 4096u /* a page: each allocation can be shared with another process on its own (ipc.c) */
#define EMU_MAX_PARAMS 32
#define EMU_NAME_MAX 128
#define EMU_FAULT_MAX 512

enum emu_kind { EMU_CONTEXT = 1, EMU_STREAM = 2, EMU_EVENT = 3, EMU_MODULE = 4, EMU_FUNCTION = 5 };

/* ---- core.c: process state, cuInit, handles ---- */

typedef struct emu_totals {
    uint64_t faults, launches, copies, unsupported_calls, reclaimed;
} emu_totals;

typedef struct emu_core {
    pthread_mutex_t lock;
    pthread_cond_t cv;
    int initialized;              /* cuInit succeeded */
    CUresult init_error;          /* what a failed cuInit returned (0: cuInit not called yet) */
    int devices;
    uint64_t device_bytes;        /* memory of each device */
    uint64_t serial;              /* the last handle serial issued */
    uint64_t next_id;             /* context, stream and buffer ids */
    emu_totals totals;
    char last_fault[EMU_FAULT_MAX];
} emu_core;

extern emu_core emu;

#define EMU_LOCK() pthread_mutex_lock(&emu.lock)
#define EMU_UNLOCK() pthread_mutex_unlock(&emu.lock)

CUresult emu_ready_locked(void);
CUresult emu_ready(void);                      /* cuInit succeeded (takes the lock); else cuInit's error */
uintptr_t emu_handle_new_locked(enum emu_kind kind);
int emu_handle_issued_locked(uintptr_t handle, enum emu_kind kind);
uint64_t emu_id_new_locked(void);
void emu_wait_locked(void);
void emu_broadcast_locked(void);
uint32_t emu_delay_us(void);
void emu_sleep_us(uint32_t us);

/* ---- device.c ---- */

CUresult emu_device_check_locked(CUdevice dev); /* cuInit succeeded and dev is one of its devices */

/* ---- context.c, primary.c: contexts and each thread's stack of current contexts ---- */

typedef struct emu_ctx {
    uintptr_t handle;
    uint64_t id;
    int device;
    unsigned flags;
    int primary;
    int active;                   /* created: until destroyed; primary: while retained */
    unsigned retains;             /* primary only */
    CUresult sticky;              /* CUDA_SUCCESS, or the error a fault left (a real GPU's sticky error) */
    struct emu_ctx *next;         /* created contexts */
} emu_ctx;

CUresult emu_enter_locked(emu_ctx **out);      /* the current context: live, active and not faulted */
CUresult emu_current_locked(emu_ctx **out);    /* the same, faulted or not */
emu_ctx *emu_ctx_find_locked(uintptr_t handle); /* a live context (a primary one: active or not) */
emu_ctx *emu_primary_locked(int device);
void emu_primaries_init_locked(void);
void emu_ctx_teardown_locked(emu_ctx *c);      /* frees everything c owns; counts what was left */
void emu_ctx_forget_current(uintptr_t handle); /* pops handle off the calling thread's stack top */
void emu_ctx_count_locked(uint64_t *contexts, uint64_t *retains);
CUresult emu_ctx_synchronize_locked(emu_ctx *c);

/* ---- memory.c: the device address reservation and its allocations ---- */

typedef struct emu_alloc {
    uint64_t base, size, span;    /* size as requested, span rounded up to EMU_ALLOC_ALIGN */
    emu_ctx *ctx;
    uint64_t buffer_id;
    int fd;                       /* its memfd once exported or imported (ipc.c), else -1 */
    int imported;                 /* opened from another process: cuIpcCloseMemHandle frees it, not cuMemFree */
    unsigned opens;               /* imported: cuIpcOpenMemHandle's reference count */
    uint64_t origin_pid, origin_buffer, nonce; /* exported: its nonce; imported: the exporter's pid, buffer, nonce */
} emu_alloc;

CUresult emu_memory_reserve(int devices, uint64_t bytes_per_device);
int emu_in_reservation(uint64_t addr, uint64_t len);  /* overlaps the device reservation */
const emu_alloc *emu_alloc_find_locked(uint64_t addr);
emu_alloc *emu_alloc_at_locked(uint64_t base);        /* the allocation that starts at base, or NULL */
CUresult emu_alloc_insert_locked(emu_ctx *c, uint64_t size, emu_alloc **out); /* a new one, its bytes private */
void emu_alloc_remove_locked(emu_alloc *a);
emu_alloc *emu_ipc_find_locked(const emu_ctx *c, uint64_t pid, uint64_t buffer, uint64_t nonce); /* opened in c */
int emu_shadow_share(uint64_t base, uint64_t span, int fd);     /* maps fd over the bytes of [base, base+span) */
char *emu_shadow(uint64_t device_addr);
unsigned emu_allocs_reclaim_locked(emu_ctx *c);
void emu_allocs_count_locked(uint64_t *allocations, uint64_t *bytes);

/* ---- host.c: registered and page-locked host memory ---- */

typedef struct emu_host_range {
    uint64_t base, size;
    unsigned flags;
    int allocated;                /* cuMemAllocHost / cuMemHostAlloc (else cuMemHostRegister) */
    emu_ctx *ctx;
    uint64_t buffer_id;
} emu_host_range;

const emu_host_range *emu_host_find_locked(uint64_t addr);
int emu_host_mapped(uint64_t addr, uint64_t len);
unsigned emu_host_reclaim_locked(emu_ctx *c);
void emu_host_count_locked(uint64_t *registrations, uint64_t *allocations);

/* ---- resolve.c: what a device-side access reaches, and faults ---- */

typedef enum { EMU_MEM_DEVICE = 1, EMU_MEM_PINNED, EMU_MEM_PAGEABLE } emu_mem_kind;

typedef struct emu_access {
    emu_ctx *ctx;                 /* kernels reach only their context's device memory; NULL: any */
    char who[160];                /* "kernel kv_gather_chunks, block (3,1,0)" */
    uint64_t lo, hi;              /* the last range resolved: [lo, hi) */
    intptr_t delta;               /* host pointer = address + delta */
    int writable;
    char why[EMU_FAULT_MAX];
} emu_access;

void emu_access_init(emu_access *a, emu_ctx *ctx, const char *who);
void *emu_access_resolve(emu_access *a, uint64_t addr, uint64_t len, int write);
CUresult emu_access_fault(emu_access *a);      /* reports a->why; returns CUDA_ERROR_ILLEGAL_ADDRESS */
CUresult emu_classify_locked(uint64_t addr, uint64_t len, int device_side, emu_mem_kind *kind);

/* ---- stream.c, stream_api.c: streams, their threads and the ops they run ---- */

typedef struct emu_stream emu_stream;
typedef struct emu_op emu_op;

typedef struct emu_wait {
    emu_stream *stream;
    uint64_t seq;                 /* done once stream->completed >= seq */
} emu_wait;

struct emu_op {
    emu_op *next;
    emu_stream *stream;
    uint64_t seq;
    int work;                     /* delayed by LMCACHE4J_CUDA_EMULATOR_DELAY_US */
    int always;                   /* runs in a faulted context too (stream callbacks get the status) */
    CUresult status;              /* the context's error when the op ran */
    CUresult (*run)(emu_op *op);
    void (*release)(emu_op *op);  /* with the lock held, once done */
    emu_wait *waits;
    int nwaits, wait_cap;
    _Alignas(16) unsigned char payload[];
};

typedef enum { EMU_STREAM_USER, EMU_STREAM_LEGACY, EMU_STREAM_PER_THREAD } emu_stream_kind;

struct emu_stream {
    uintptr_t handle;             /* user streams; 0 for the default ones */
    uint64_t id;
    emu_ctx *ctx;                 /* NULL once its context is torn down */
    emu_stream_kind kind;
    unsigned flags;
    int priority;
    pthread_t owner;              /* per-thread default streams */
    pthread_t thread;
    int live, closing, exited, joined;
    unsigned refs;
    uint64_t submitted, completed;
    emu_op *head, *tail;
    emu_stream *next;
};

emu_op *emu_op_new(size_t payload);
emu_op *emu_op_marker(void);                  /* does nothing: queued for its place in the order, and its waits */
void emu_op_discard(emu_op *op);
void emu_op_wait_for_locked(emu_op *op, emu_stream *s, uint64_t seq);
CUresult emu_stream_get_locked(CUstream h, emu_ctx *cur, emu_stream **out);
CUresult emu_stream_of_ctx_locked(CUstream h, emu_ctx *cur, emu_stream **out);
uint64_t emu_submit_locked(emu_stream *s, emu_op *op);
CUresult emu_stream_wait_locked(emu_stream *s, uint64_t seq);
int emu_stream_blocking(const emu_stream *s);
int emu_stream_done(const emu_stream *s, uint64_t seq);
void emu_stream_unref_locked(emu_stream *s);
emu_stream *emu_streams_first_locked(void);
CUresult emu_stream_new_locked(emu_ctx *c, emu_stream_kind kind, unsigned flags, int priority, emu_stream **out);
unsigned emu_streams_reclaim_locked(emu_ctx *c);
void emu_streams_reap_locked(void);
uint64_t emu_streams_count_locked(void);
void emu_idle_locked(emu_ctx *c);             /* waits for the work queued so far (c NULL: everywhere) */

/* ---- event.c ---- */

unsigned emu_events_reclaim_locked(emu_ctx *c);
uint64_t emu_events_count_locked(void);

/* ---- image.c, elf.c, ptx.c: what a module image holds ---- */

typedef struct emu_param {
    uint32_t offset, size;
} emu_param;

typedef struct emu_kernel_info {
    char name[EMU_NAME_MAX];
    int nparams;
    emu_param params[EMU_MAX_PARAMS];
    int regs;
} emu_kernel_info;

typedef struct emu_image {
    emu_kernel_info *kernels;
    int nkernels;
    int arch;                     /* the ELF's sm_XX, or the PTX's when "JIT compiled" */
    int jit;
} emu_image;

/* Little-endian fields of an image (fatbin headers, ELF), read byte by byte: any alignment will do. */
static inline uint16_t emu_le16(const unsigned char *p) {
    return (uint16_t) (p[0] | p[1] << 8);
}

static inline uint32_t emu_le32(const unsigned char *p) {
    return (uint32_t) p[0] | (uint32_t) p[1] << 8 | (uint32_t) p[2] << 16 | (uint32_t) p[3] << 24;
}

static inline uint64_t emu_le64(const unsigned char *p) {
    return (uint64_t) emu_le32(p) | (uint64_t) emu_le32(p + 4) << 32;
}

CUresult emu_image_load(const void *image, size_t size, emu_image *out);
void emu_image_free(emu_image *img);
CUresult emu_elf_kernels(const unsigned char *elf, size_t size, emu_image *out);
CUresult emu_ptx_kernels(const char *ptx, size_t size, emu_image *out);
int emu_elf_arch(const unsigned char *elf, size_t size);
int emu_ptx_arch(const char *ptx, size_t size);
uint32_t emu_param_bytes(const emu_kernel_info *k);

/* ---- module.c, kernels.c, launch.c ---- */

typedef struct emu_launch {
    char name[EMU_NAME_MAX];
    unsigned grid[3], block[3];
    uint32_t param_bytes;
    const unsigned char *params;
} emu_launch;

typedef CUresult (*emu_kernel_run)(const emu_launch *l, emu_access *mem);

typedef struct emu_host_kernel {
    const char *name;
    int nparams;
    emu_param params[EMU_MAX_PARAMS];
    emu_kernel_run run;
} emu_host_kernel;

const emu_host_kernel *emu_host_kernel_find(const char *name);
int emu_layout_equal(const emu_host_kernel *h, const emu_kernel_info *k);
void emu_layout_format(char *out, size_t cap, int n, const emu_param *params);

typedef struct emu_function {
    uintptr_t handle;
    struct emu_module *module;
    emu_kernel_info info;
    const emu_host_kernel *impl;
    atomic_int warned;
    struct emu_function *next;
} emu_function;

emu_function *emu_function_find_locked(uintptr_t handle);
unsigned emu_modules_reclaim_locked(emu_ctx *c);
uint64_t emu_modules_count_locked(void);
emu_ctx *emu_function_ctx_locked(const emu_function *f);

/* ---- ipc.c ---- */
void emu_ipc_close_fd(emu_alloc *a);           /* on removal: the shared bytes go back to private zeros */

/* ---- unsupported.c ---- */
int emu_unsupported(const char *name, atomic_int *once);

#endif
