/*
 * Streams: a FIFO of ops and a thread that runs them, one per stream.
 *
 * Each op may carry waits, "stream S has completed op n": cuStreamWaitEvent adds the event's
 * latest record, and submission adds the implicit synchronisation of the legacy default stream
 * (an op on it waits for all earlier work of every blocking stream of its context; an op on a
 * blocking stream waits for earlier legacy work; non-blocking streams are never ordered
 * implicitly). A wait holds a reference on the stream it names, so a destroyed stream's struct
 * lives until no op waits on it; its thread is joined by the reaper (emu_streams_reap_locked)
 * once it has drained its queue, since cuStreamDestroy returns at once.
 *
 * Before each work op the thread sleeps LMCACHE4J_CUDA_EMULATOR_DELAY_US, so that a missing
 * synchronisation shows up as wrong bytes. In a context with a sticky error ops are discarded
 * unrun (stream callbacks excepted: they are told the error), as work after a GPU fault is.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "emu.h"

static emu_stream *streams; /* every stream whose struct still exists */

emu_op *emu_op_new(size_t payload) {
    return calloc(1, sizeof(emu_op) + payload);
}

static CUresult run_nothing(emu_op *op) {
    (void) op;
    return CUDA_SUCCESS;
}

emu_op *emu_op_marker(void) {
    emu_op *op = emu_op_new(0);
    if (op != NULL) {
        op->run = run_nothing;
    }
    return op;
}

void emu_op_discard(emu_op *op) {
    free(op->waits);
    free(op);
}

int emu_stream_done(const emu_stream *s, uint64_t seq) {
    return s->completed >= seq || s->exited;
}

int emu_stream_blocking(const emu_stream *s) {
    return s->kind == EMU_STREAM_PER_THREAD || (s->kind == EMU_STREAM_USER && !(s->flags & CU_STREAM_NON_BLOCKING));
}

void emu_op_wait_for_locked(emu_op *op, emu_stream *s, uint64_t seq) {
    if (s == op->stream || emu_stream_done(s, seq)) {
        return; /* FIFO already orders an op after earlier work of its own stream */
    }
    if (op->nwaits == op->wait_cap) {
        int ncap = op->wait_cap == 0 ? 4 : op->wait_cap * 2;
        emu_wait *w = realloc(op->waits, (size_t) ncap * sizeof *w);
        if (w == NULL) {
            while (!emu_stream_done(s, seq)) {
                emu_wait_locked(); /* no memory to record the wait: keep the order by waiting now */
            }
            return;
        }
        op->waits = w;
        op->wait_cap = ncap;
    }
    s->refs++;
    op->waits[op->nwaits++] = (emu_wait){s, seq};
}

static int waits_done(const emu_op *op) {
    for (int i = 0; i < op->nwaits; i++) {
        if (!emu_stream_done(op->waits[i].stream, op->waits[i].seq)) {
            return 0;
        }
    }
    return 1;
}

static void op_finish_locked(emu_op *op) {
    if (op->release != NULL) {
        op->release(op);
    }
    for (int i = 0; i < op->nwaits; i++) {
        emu_stream_unref_locked(op->waits[i].stream);
    }
    emu_op_discard(op);
}

static void *stream_main(void *arg) {
    emu_stream *s = arg;
    char name[16];
    snprintf(name, sizeof name, "cuda-emu-s%llu", (unsigned long long) s->id);
    pthread_setname_np(pthread_self(), name); /* shows in gdb, top -H, jstack's native frames */
    EMU_LOCK();
    for (;;) {
        emu_op *op = s->head;
        if (op == NULL && s->closing) {
            break;
        }
        if (op == NULL || !waits_done(op)) {
            emu_wait_locked();
            continue;
        }
        emu_ctx *c = s->ctx;
        CUresult sticky = c->sticky;
        EMU_UNLOCK();
        CUresult rc = CUDA_SUCCESS;
        if (sticky == CUDA_SUCCESS || op->always) {
            op->status = sticky;
            uint32_t delay = op->work && sticky == CUDA_SUCCESS ? emu_delay_us() : 0;
            if (delay > 0) {
                emu_sleep_us(delay);
            }
            rc = op->run(op);
        }
        EMU_LOCK();
        if (rc != CUDA_SUCCESS && c->sticky == CUDA_SUCCESS) {
            c->sticky = rc;
        }
        s->head = op->next;
        if (s->head == NULL) {
            s->tail = NULL;
        }
        s->completed = op->seq;
        op_finish_locked(op);
        emu_broadcast_locked();
    }
    s->exited = 1;
    emu_broadcast_locked();
    EMU_UNLOCK();
    return NULL;
}

CUresult emu_stream_new_locked(emu_ctx *c, emu_stream_kind kind, unsigned flags, int priority, emu_stream **out) {
    emu_streams_reap_locked();
    emu_stream *s = calloc(1, sizeof *s);
    if (s == NULL) {
        return CUDA_ERROR_OUT_OF_MEMORY;
    }
    *s = (emu_stream){.handle = kind == EMU_STREAM_USER ? emu_handle_new_locked(EMU_STREAM) : 0,
                      .id = emu_id_new_locked(), .ctx = c, .kind = kind, .flags = flags, .priority = priority,
                      .owner = pthread_self(), .live = 1, .refs = 2 /* alive, and its thread */};
    if (pthread_create(&s->thread, NULL, stream_main, s) != 0) {
        free(s);
        return CUDA_ERROR_OUT_OF_MEMORY;
    }
    s->next = streams;
    streams = s;
    *out = s;
    return CUDA_SUCCESS;
}

void emu_stream_unref_locked(emu_stream *s) {
    if (--s->refs > 0) {
        return;
    }
    for (emu_stream **p = &streams; *p != NULL; p = &(*p)->next) {
        if (*p == s) {
            *p = s->next;
            break;
        }
    }
    free(s);
}

/* Joins the threads of streams that were destroyed and have drained their queues. */
void emu_streams_reap_locked(void) {
    for (emu_stream *s = streams, *next; s != NULL; s = next) {
        next = s->next;
        if (s->exited && !s->joined) {
            pthread_join(s->thread, NULL); /* it has released the lock for good and is returning */
            s->joined = 1;
            emu_stream_unref_locked(s);
        }
    }
}

emu_stream *emu_streams_first_locked(void) {
    return streams;
}

uint64_t emu_submit_locked(emu_stream *s, emu_op *op) {
    op->stream = s;
    for (emu_stream *t = streams; t != NULL; t = t->next) {
        if (t == s || t->ctx != s->ctx || t->exited) {
            continue;
        }
        if ((s->kind == EMU_STREAM_LEGACY && emu_stream_blocking(t))
            || (t->kind == EMU_STREAM_LEGACY && emu_stream_blocking(s))) {
            emu_op_wait_for_locked(op, t, t->submitted);
        }
    }
    op->seq = ++s->submitted;
    if (s->tail != NULL) {
        s->tail->next = op;
    } else {
        s->head = op;
    }
    s->tail = op;
    emu_broadcast_locked();
    return op->seq;
}

/* Waits for op seq of s; returns the sticky error of s's context (or that it is gone). */
CUresult emu_stream_wait_locked(emu_stream *s, uint64_t seq) {
    s->refs++;
    while (!emu_stream_done(s, seq)) {
        emu_wait_locked();
    }
    CUresult rc = s->ctx == NULL ? CUDA_ERROR_CONTEXT_IS_DESTROYED : s->ctx->sticky;
    emu_stream_unref_locked(s);
    return rc;
}

void emu_idle_locked(emu_ctx *c) {
    size_t n = 0;
    for (emu_stream *s = streams; s != NULL; s = s->next) {
        n += (c == NULL || s->ctx == c) && !emu_stream_done(s, s->submitted);
    }
    emu_wait *w = n > 0 ? calloc(n, sizeof *w) : NULL;
    if (n > 0 && w == NULL) {
        return;
    }
    size_t k = 0;
    for (emu_stream *s = streams; s != NULL && k < n; s = s->next) {
        if ((c == NULL || s->ctx == c) && !emu_stream_done(s, s->submitted)) {
            s->refs++;
            w[k++] = (emu_wait){s, s->submitted};
        }
    }
    for (size_t i = 0; i < k; i++) {
        while (!emu_stream_done(w[i].stream, w[i].seq)) {
            emu_wait_locked();
        }
    }
    for (size_t i = 0; i < k; i++) {
        emu_stream_unref_locked(w[i].stream);
    }
    free(w);
}

CUresult emu_ctx_synchronize_locked(emu_ctx *c) {
    uintptr_t handle = c->handle;
    emu_idle_locked(c);
    c = emu_ctx_find_locked(handle);
    return c == NULL || !c->active ? CUDA_ERROR_CONTEXT_IS_DESTROYED : c->sticky;
}

/* Stops every stream of c once its work is done; returns how many user streams were still alive. */
unsigned emu_streams_reclaim_locked(emu_ctx *c) {
    unsigned n = 0;
    emu_idle_locked(c);
    for (emu_stream *s = streams; s != NULL; s = s->next) {
        if (s->ctx == c && !s->closing) {
            n += s->kind == EMU_STREAM_USER;
            s->closing = 1;
            s->live = 0;
            s->refs--; /* the registry's reference; the thread's keeps it until the reaper joins */
        }
    }
    emu_broadcast_locked();
    for (;;) {
        int running = 0;
        for (emu_stream *s = streams; s != NULL; s = s->next) {
            running |= s->ctx == c && !s->exited;
        }
        if (!running) {
            break;
        }
        emu_wait_locked();
    }
    for (emu_stream *s = streams; s != NULL; s = s->next) {
        if (s->ctx == c) {
            s->ctx = NULL;
        }
    }
    emu_streams_reap_locked();
    return n;
}

uint64_t emu_streams_count_locked(void) {
    uint64_t n = 0;
    for (emu_stream *s = streams; s != NULL; s = s->next) {
        n += s->live && s->kind == EMU_STREAM_USER;
    }
    return n;
}
