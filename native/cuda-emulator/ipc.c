/*
 * CUDA IPC of device memory: cuIpcGetMemHandle, cuIpcOpenMemHandle_v2, cuIpcCloseMemHandle
 * between processes of one user, with the semantics CUDA 13's cuda.h documents for them.
 *
 * How the bytes are shared. An allocation's bytes live in the process's private shadow mapping
 * (memory.c). Its first cuIpcGetMemHandle moves them onto a memfd of their own: with the lock
 * held it waits until no stream of the process has work queued or running (nothing else can
 * then touch the bytes), copies them into the memfd and maps the memfd MAP_SHARED over the same
 * shadow range, so the device address and the bytes stay as they were. The handle names the
 * exporter's pid, the memfd's descriptor number and a random nonce, which is also in the
 * memfd's name. An opener opens /proc/<pid>/fd/<fd>: the kernel lets a process of the same user
 * do so without the exporter's help, and refuses another user (ptrace read access). It checks
 * that the file's name carries the nonce (a reused pid or descriptor number names another file)
 * and its size, and maps the file into a device range of its own. Nothing is named in a
 * filesystem, so nothing outlives the processes: the bytes go once the exporter freed them and
 * every opener closed them. (A named file in a private directory would work too, but a crash
 * would leave it behind.) An exporter that made itself undumpable cannot be opened.
 *
 * The handle (CUipcMemHandle, 64 bytes, little-endian):
 *
 *     0  8  "LMC4EMU1"      8 4  exporter pid     12 4  memfd descriptor    16 8  buffer id
 *    24  8  size           32 8  span (pages)     40 8  nonce               48 4  device    52.. 0
 *
 * Rules, as the real driver's: the handle is for an allocation's base (an interior pointer is
 * CUDA_ERROR_INVALID_VALUE, where the real call may be laxer); opening in the exporting process
 * is CUDA_ERROR_INVALID_CONTEXT; flags must be CU_IPC_MEM_LAZY_ENABLE_PEER_ACCESS; a handle that
 * is not one is CUDA_ERROR_INVALID_VALUE; one whose memory is gone (freed, exporter exited) or
 * belongs to another user is CUDA_ERROR_INVALID_HANDLE; opening again in the same context counts
 * a reference and returns the same pointer; cuIpcCloseMemHandle drops one, unmapping at zero;
 * cuMemFree refuses opened memory. Destroying a context closes what it opened.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "emu.h"

#define HANDLE_MAGIC "LMC4EMU1"
#define LAZY_ENABLE_PEER_ACCESS 1u

typedef struct wire_handle {
    uint64_t pid, buffer, size, span, nonce;
    int fd, device;
} wire_handle;

static void put64(unsigned char *p, uint64_t v) {
    for (int i = 0; i < 8; i++) {
        p[i] = (unsigned char) (v >> (8 * i));
    }
}

static void put32(unsigned char *p, uint32_t v) {
    for (int i = 0; i < 4; i++) {
        p[i] = (unsigned char) (v >> (8 * i));
    }
}

static void memfd_name(char *out, size_t cap, uint64_t pid, uint64_t buffer, uint64_t nonce) {
    snprintf(out, cap, "lmcache4j-emu-%" PRIu64 "-%" PRIu64 "-%016" PRIx64, pid, buffer, nonce);
}

/* Holding the lock, until no stream has work queued or running: then nothing touches device bytes. */
static void quiesce_locked(void) {
    for (;;) {
        int busy = 0;
        for (emu_stream *s = emu_streams_first_locked(); s != NULL; s = s->next) {
            busy |= !emu_stream_done(s, s->submitted);
        }
        if (!busy) {
            return;
        }
        emu_idle_locked(NULL);
    }
}

/* Moves a's bytes onto a memfd shared over its shadow range (its first export). */
static CUresult share_locked(emu_alloc *a) {
    uint64_t nonce = 0;
    if (getrandom(&nonce, sizeof nonce, GRND_NONBLOCK) != (ssize_t) sizeof nonce) {
        nonce = a->buffer_id * 0x9E3779B97F4A7C15ull ^ (uint64_t) (uintptr_t) &nonce;
    }
    char name[96];
    memfd_name(name, sizeof name, (uint64_t) getpid(), a->buffer_id, nonce);
    int fd = memfd_create(name, MFD_CLOEXEC);
    if (fd < 0) {
        return CUDA_ERROR_OUT_OF_MEMORY;
    }
    const char *bytes = emu_shadow(a->base);
    uint64_t done = 0;
    int ok = ftruncate(fd, (off_t) a->span) == 0;
    while (ok && done < a->span) {
        ssize_t n = pwrite(fd, bytes + done, a->span - done, (off_t) done);
        ok = n > 0;
        done += ok ? (uint64_t) n : 0;
    }
    if (!ok || emu_shadow_share(a->base, a->span, fd) != 0) {
        close(fd); /* the private mapping is still there, bytes unchanged */
        return CUDA_ERROR_MAP_FAILED;
    }
    a->fd = fd;
    a->nonce = nonce;
    return CUDA_SUCCESS;
}

void emu_ipc_close_fd(emu_alloc *a) {
    emu_shadow_share(a->base, a->span, -1); /* back to private zeros, reserved as before */
    madvise(emu_shadow(a->base), a->span, MADV_HUGEPAGE);
    close(a->fd);
    a->fd = -1;
}

CUresult cuIpcGetMemHandle(CUipcMemHandle *pHandle, CUdeviceptr dptr) {
    if (pHandle == NULL) {
        return CUDA_ERROR_INVALID_VALUE;
    }
    EMU_LOCK();
    emu_ctx *c;
    CUresult rc = emu_enter_locked(&c);
    emu_alloc *a = rc == CUDA_SUCCESS ? emu_alloc_at_locked(dptr) : NULL;
    if (rc == CUDA_SUCCESS && (a == NULL || a->imported)) {
        rc = CUDA_ERROR_INVALID_VALUE; /* not the base of memory this process allocated */
    }
    if (rc == CUDA_SUCCESS && a->fd < 0) {
        quiesce_locked();
        a = emu_alloc_at_locked(dptr); /* the wait let other threads in */
        rc = a == NULL || a->imported ? CUDA_ERROR_INVALID_VALUE : a->fd < 0 ? share_locked(a) : CUDA_SUCCESS;
    }
    if (rc == CUDA_SUCCESS) {
        unsigned char *h = (unsigned char *) pHandle;
        memset(h, 0, 64);
        memcpy(h, HANDLE_MAGIC, 8);
        put32(h + 8, (uint32_t) getpid());
        put32(h + 12, (uint32_t) a->fd);
        put64(h + 16, a->buffer_id);
        put64(h + 24, a->size);
        put64(h + 32, a->span);
        put64(h + 40, a->nonce);
        put32(h + 48, (uint32_t) a->ctx->device);
    }
    EMU_UNLOCK();
    return rc;
}

/* The handle's fields, or CUDA_ERROR_INVALID_VALUE when the bytes are not a handle of this emulator. */
static CUresult parse(const unsigned char *h, wire_handle *w) {
    if (memcmp(h, HANDLE_MAGIC, 8) != 0) {
        return CUDA_ERROR_INVALID_VALUE;
    }
    for (int i = 52; i < 64; i++) {
        if (h[i] != 0) {
            return CUDA_ERROR_INVALID_VALUE;
        }
    }
    w->pid = emu_le32(h + 8);
    w->fd = (int) emu_le32(h + 12);
    w->buffer = emu_le64(h + 16);
    w->size = emu_le64(h + 24);
    w->span = emu_le64(h + 32);
    w->nonce = emu_le64(h + 40);
    w->device = (int) emu_le32(h + 48);
    int sane = w->pid > 0 && w->fd >= 0 && w->size > 0 && w->span >= w->size && w->span % EMU_ALLOC_ALIGN == 0
               && w->span - w->size < EMU_ALLOC_ALIGN && w->device >= 0 && w->device < EMU_MAX_DEVICES;
    return sane ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE;
}

/* The exporter's memfd, reopened; -1 when it is gone, another file, or not this user's. */
static int reopen(const wire_handle *w) {
    char path[64], link[160], want[96];
    snprintf(path, sizeof path, "/proc/%" PRIu64 "/fd/%d", w->pid, w->fd);
    ssize_t n = readlink(path, link, sizeof link - 1);
    if (n <= 0) {
        return -1;
    }
    link[n] = 0;
    memfd_name(want, sizeof want, w->pid, w->buffer, w->nonce);
    char expected[128];
    snprintf(expected, sizeof expected, "/memfd:%s (deleted)", want);
    if (strcmp(link, expected) != 0) {
        return -1;
    }
    int fd = open(path, O_RDWR | O_CLOEXEC);
    struct stat st;
    if (fd >= 0 && (fstat(fd, &st) != 0 || (uint64_t) st.st_size != w->span)) {
        close(fd);
        fd = -1;
    }
    return fd;
}

CUresult cuIpcOpenMemHandle_v2(CUdeviceptr *pdptr, CUipcMemHandle handle, unsigned int Flags) {
    wire_handle w;
    CUresult rc = pdptr == NULL || Flags != LAZY_ENABLE_PEER_ACCESS ? CUDA_ERROR_INVALID_VALUE
                                                                     : parse((const unsigned char *) &handle, &w);
    if (rc != CUDA_SUCCESS) {
        return rc;
    }
    EMU_LOCK();
    emu_ctx *c;
    rc = emu_enter_locked(&c);
    if (rc == CUDA_SUCCESS && w.pid == (uint64_t) getpid()) {
        rc = CUDA_ERROR_INVALID_CONTEXT; /* the real driver refuses a process its own memory */
    }
    emu_alloc *a = rc == CUDA_SUCCESS ? emu_ipc_find_locked(c, w.pid, w.buffer, w.nonce) : NULL;
    if (a != NULL) {
        a->opens++;
        *pdptr = a->base;
        EMU_UNLOCK();
        return CUDA_SUCCESS;
    }
    int fd = rc == CUDA_SUCCESS ? reopen(&w) : -1;
    if (rc == CUDA_SUCCESS && fd < 0) {
        rc = CUDA_ERROR_INVALID_HANDLE;
    }
    if (rc == CUDA_SUCCESS) {
        rc = emu_alloc_insert_locked(c, w.size, &a);
    }
    if (rc == CUDA_SUCCESS && emu_shadow_share(a->base, a->span, fd) != 0) {
        emu_alloc_remove_locked(a);
        rc = CUDA_ERROR_MAP_FAILED;
    }
    if (rc == CUDA_SUCCESS) {
        a->fd = fd;
        a->imported = 1;
        a->opens = 1;
        a->origin_pid = w.pid;
        a->origin_buffer = w.buffer;
        a->nonce = w.nonce;
        *pdptr = a->base;
    } else if (fd >= 0) {
        close(fd);
    }
    EMU_UNLOCK();
    return rc;
}

CUresult cuIpcCloseMemHandle(CUdeviceptr dptr) {
    EMU_LOCK();
    emu_ctx *c;
    CUresult rc = emu_enter_locked(&c);
    emu_alloc *a = rc == CUDA_SUCCESS ? emu_alloc_at_locked(dptr) : NULL;
    if (rc == CUDA_SUCCESS && (a == NULL || !a->imported)) {
        rc = CUDA_ERROR_INVALID_VALUE;
    }
    if (rc == CUDA_SUCCESS && --a->opens == 0) {
        emu_idle_locked(a->ctx); /* no queued kernel or copy may reach it once unmapped */
        a = emu_alloc_at_locked(dptr);
        if (a != NULL && a->imported && a->opens == 0) {
            emu_alloc_remove_locked(a);
        }
    }
    EMU_UNLOCK();
    return rc;
}
