/*
 * Events: an event is "op n of stream S", the latest record, and the time that op ran.
 *
 * cuEventRecord queues a record op (no work, so no delay) and remembers (S, n); the event is
 * complete once S has done op n, and an event never recorded counts as complete (cuda.h: "an
 * empty set of work"). cuStreamWaitEvent copies (S, n) at the call into a marker op, so records
 * made later do not affect it; the event may belong to another context. A record op holds a
 * reference on its event: cuEventDestroy returns at once and a pending record still completes.
 * Each record carries a generation, so a slow old record cannot stamp the time of a newer one.
 */
#include <stdlib.h>
#include <time.h>

#include "emu.h"

typedef struct emu_event {
    uintptr_t handle;
    emu_ctx *ctx;
    unsigned flags;
    int live;
    unsigned refs;
    emu_stream *stream;           /* the latest record: (stream, seq), or NULL */
    uint64_t seq, generation;
    int timed;                    /* time holds the latest record's completion */
    struct timespec time;
    struct emu_event *next;
} emu_event;

static emu_event *events;

#define EVENT_FLAGS (CU_EVENT_BLOCKING_SYNC | CU_EVENT_DISABLE_TIMING | CU_EVENT_INTERPROCESS)

static emu_event *find_locked(CUevent h) {
    for (emu_event *e = events; e != NULL; e = e->next) {
        if (e->live && e->handle == (uintptr_t) h) {
            return e;
        }
    }
    return NULL;
}

static void unref_locked(emu_event *e) {
    if (--e->refs > 0) {
        return;
    }
    for (emu_event **p = &events; *p != NULL; p = &(*p)->next) {
        if (*p == e) {
            *p = e->next;
            break;
        }
    }
    if (e->stream != NULL) {
        emu_stream_unref_locked(e->stream);
    }
    free(e);
}

static int complete_locked(const emu_event *e) {
    return e->stream == NULL || emu_stream_done(e->stream, e->seq);
}

static CUresult event_arg(CUevent h, emu_event **out) {
    CUresult rc = emu_ready_locked();
    if (rc == CUDA_SUCCESS && (*out = find_locked(h)) == NULL) {
        rc = CUDA_ERROR_INVALID_HANDLE;
    }
    return rc;
}

CUresult cuEventCreate(CUevent *phEvent, unsigned int Flags) {
    if (phEvent == NULL || (Flags & ~(unsigned) EVENT_FLAGS) != 0
        || ((Flags & CU_EVENT_INTERPROCESS) && !(Flags & CU_EVENT_DISABLE_TIMING))) {
        return CUDA_ERROR_INVALID_VALUE;
    }
    EMU_LOCK();
    emu_ctx *c;
    emu_event *e = NULL;
    CUresult rc = emu_enter_locked(&c);
    if (rc == CUDA_SUCCESS && (e = calloc(1, sizeof *e)) == NULL) {
        rc = CUDA_ERROR_OUT_OF_MEMORY;
    }
    if (rc == CUDA_SUCCESS) {
        *e = (emu_event){.handle = emu_handle_new_locked(EMU_EVENT), .ctx = c, .flags = Flags, .live = 1,
                         .refs = 1, .next = events};
        events = e;
        *phEvent = (CUevent) e->handle;
    }
    EMU_UNLOCK();
    return rc;
}

CUresult cuEventDestroy_v2(CUevent hEvent) {
    EMU_LOCK();
    emu_event *e;
    CUresult rc = event_arg(hEvent, &e);
    if (rc == CUDA_SUCCESS) {
        e->live = 0;
        unref_locked(e);
    }
    EMU_UNLOCK();
    return rc;
}

typedef struct record {
    emu_event *event;
    uint64_t generation;
} record;

static CUresult run_record(emu_op *op) {
    record *r = (record *) op->payload;
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    EMU_LOCK();
    if (r->event->generation == r->generation) {
        r->event->time = now;
        r->event->timed = 1;
    }
    EMU_UNLOCK();
    return CUDA_SUCCESS;
}

static void release_record(emu_op *op) {
    unref_locked(((record *) op->payload)->event);
}

CUresult cuEventRecordWithFlags(CUevent hEvent, CUstream hStream, unsigned int flags) {
    if (flags != CU_EVENT_RECORD_DEFAULT) {
        return CUDA_ERROR_INVALID_VALUE; /* CU_EVENT_RECORD_EXTERNAL is for stream capture only */
    }
    EMU_LOCK();
    emu_ctx *c;
    emu_event *e;
    emu_stream *s;
    emu_op *op = NULL;
    CUresult rc = emu_enter_locked(&c);
    if (rc == CUDA_SUCCESS && (rc = event_arg(hEvent, &e)) == CUDA_SUCCESS) {
        rc = emu_stream_get_locked(hStream, c, &s);
    }
    if (rc == CUDA_SUCCESS && (e->ctx != s->ctx || s->ctx != c)) {
        rc = CUDA_ERROR_INVALID_HANDLE; /* "hEvent and hStream must be from the same context" */
    }
    if (rc == CUDA_SUCCESS && (op = emu_op_new(sizeof(record))) == NULL) {
        rc = CUDA_ERROR_OUT_OF_MEMORY;
    }
    if (rc == CUDA_SUCCESS) {
        e->generation++;
        e->timed = 0;
        e->refs++;
        *(record *) op->payload = (record){e, e->generation};
        op->run = run_record;
        op->release = release_record;
        uint64_t seq = emu_submit_locked(s, op);
        s->refs++;
        if (e->stream != NULL) {
            emu_stream_unref_locked(e->stream);
        }
        e->stream = s;
        e->seq = seq;
    }
    EMU_UNLOCK();
    return rc;
}

CUresult cuEventRecord(CUevent hEvent, CUstream hStream) {
    return cuEventRecordWithFlags(hEvent, hStream, CU_EVENT_RECORD_DEFAULT);
}

CUresult cuEventQuery(CUevent hEvent) {
    EMU_LOCK();
    emu_event *e;
    CUresult rc = event_arg(hEvent, &e);
    if (rc == CUDA_SUCCESS) {
        rc = e->ctx->sticky != CUDA_SUCCESS ? e->ctx->sticky : complete_locked(e) ? CUDA_SUCCESS : CUDA_ERROR_NOT_READY;
    }
    EMU_UNLOCK();
    return rc;
}

CUresult cuEventSynchronize(CUevent hEvent) {
    EMU_LOCK();
    emu_event *e;
    CUresult rc = event_arg(hEvent, &e);
    if (rc == CUDA_SUCCESS) {
        e->refs++;
        while (!complete_locked(e)) {
            emu_wait_locked();
        }
        rc = e->live ? e->ctx->sticky : CUDA_ERROR_INVALID_HANDLE; /* destroyed, or its context was, meanwhile */
        unref_locked(e);
    }
    EMU_UNLOCK();
    return rc;
}

static CUresult elapsed(float *pMilliseconds, CUevent hStart, CUevent hEnd) {
    if (pMilliseconds == NULL) {
        return CUDA_ERROR_INVALID_VALUE;
    }
    EMU_LOCK();
    emu_event *a, *b;
    CUresult rc = event_arg(hStart, &a);
    if (rc == CUDA_SUCCESS) {
        rc = event_arg(hEnd, &b);
    }
    if (rc == CUDA_SUCCESS && (a->stream == NULL || b->stream == NULL
                               || ((a->flags | b->flags) & CU_EVENT_DISABLE_TIMING))) {
        rc = CUDA_ERROR_INVALID_HANDLE;
    }
    if (rc == CUDA_SUCCESS && (!complete_locked(a) || !complete_locked(b))) {
        rc = CUDA_ERROR_NOT_READY;
    }
    if (rc == CUDA_SUCCESS && (a->ctx->sticky != CUDA_SUCCESS || b->ctx->sticky != CUDA_SUCCESS)) {
        rc = a->ctx->sticky != CUDA_SUCCESS ? a->ctx->sticky : b->ctx->sticky;
    }
    if (rc == CUDA_SUCCESS && (!a->timed || !b->timed)) {
        rc = CUDA_ERROR_UNKNOWN; /* a record discarded unrun: only after a fault, caught above */
    }
    if (rc == CUDA_SUCCESS) {
        double ms = (double) (b->time.tv_sec - a->time.tv_sec) * 1e3 + (double) (b->time.tv_nsec - a->time.tv_nsec) / 1e6;
        *pMilliseconds = (float) ms;
    }
    EMU_UNLOCK();
    return rc;
}

CUresult cuEventElapsedTime(float *pMilliseconds, CUevent hStart, CUevent hEnd) {
    return elapsed(pMilliseconds, hStart, hEnd);
}

CUresult cuEventElapsedTime_v2(float *pMilliseconds, CUevent hStart, CUevent hEnd) {
    return elapsed(pMilliseconds, hStart, hEnd);
}

CUresult cuStreamWaitEvent(CUstream hStream, CUevent hEvent, unsigned int Flags) {
    if (Flags != CU_EVENT_WAIT_DEFAULT) {
        return CUDA_ERROR_INVALID_VALUE; /* CU_EVENT_WAIT_EXTERNAL is for stream capture only */
    }
    EMU_LOCK();
    emu_ctx *c;
    emu_event *e;
    emu_stream *s;
    emu_op *op = NULL;
    CUresult rc = emu_enter_locked(&c);
    if (rc == CUDA_SUCCESS && (rc = emu_stream_of_ctx_locked(hStream, c, &s)) == CUDA_SUCCESS) {
        rc = event_arg(hEvent, &e); /* "hEvent may be from a different context or device than hStream" */
    }
    if (rc == CUDA_SUCCESS && !complete_locked(e)) {
        if ((op = emu_op_marker()) == NULL) {
            rc = CUDA_ERROR_OUT_OF_MEMORY;
        } else {
            op->stream = s;
            emu_op_wait_for_locked(op, e->stream, e->seq);
            emu_submit_locked(s, op);
        }
    }
    EMU_UNLOCK();
    return rc;
}

unsigned emu_events_reclaim_locked(emu_ctx *c) {
    unsigned n = 0;
    for (emu_event *e = events, *next; e != NULL; e = next) {
        next = e->next;
        if (e->ctx == c && e->live) {
            e->live = 0;
            n++;
            unref_locked(e);
        }
    }
    return n;
}

uint64_t emu_events_count_locked(void) {
    uint64_t n = 0;
    for (emu_event *e = events; e != NULL; e = e->next) {
        n += e->live;
    }
    return n;
}
