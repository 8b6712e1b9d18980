/*
 * The cuStream* calls, stream callbacks and host functions, and how a stream argument is read.
 *
 * Handle 0 and CU_STREAM_LEGACY name the current context's legacy default stream, and
 * CU_STREAM_PER_THREAD a blocking stream per (thread, context); both are made on first use and
 * live as long as their context. Any other handle must be a live stream created here, else
 * CUDA_ERROR_INVALID_HANDLE: never a crash. Copies and launches also need the stream to belong to
 * the current context (emu_stream_of_ctx_locked); queries, synchronisation and destruction take
 * a stream of any context, since the stream knows its own.
 */
#include "emu.h"

static emu_stream *default_stream_locked(emu_ctx *c, emu_stream_kind kind) {
    pthread_t self = pthread_self();
    for (emu_stream *s = emu_streams_first_locked(); s != NULL; s = s->next) {
        if (s->ctx == c && s->kind == kind && s->live && (kind == EMU_STREAM_LEGACY || pthread_equal(s->owner, self))) {
            return s;
        }
    }
    emu_stream *s = NULL;
    return emu_stream_new_locked(c, kind, 0, 0, &s) == CUDA_SUCCESS ? s : NULL;
}

CUresult emu_stream_get_locked(CUstream h, emu_ctx *cur, emu_stream **out) {
    if (h == NULL || h == CU_STREAM_LEGACY || h == CU_STREAM_PER_THREAD) {
        if (cur == NULL) {
            CUresult rc = emu_current_locked(&cur);
            if (rc != CUDA_SUCCESS) {
                return rc;
            }
        }
        *out = default_stream_locked(cur, h == CU_STREAM_PER_THREAD ? EMU_STREAM_PER_THREAD : EMU_STREAM_LEGACY);
        return *out != NULL ? CUDA_SUCCESS : CUDA_ERROR_OUT_OF_MEMORY;
    }
    CUresult rc = emu_ready_locked();
    if (rc != CUDA_SUCCESS) {
        return rc;
    }
    for (emu_stream *s = emu_streams_first_locked(); s != NULL; s = s->next) {
        if (s->live && s->kind == EMU_STREAM_USER && s->handle == (uintptr_t) h) {
            *out = s;
            return CUDA_SUCCESS;
        }
    }
    return CUDA_ERROR_INVALID_HANDLE;
}

CUresult emu_stream_of_ctx_locked(CUstream h, emu_ctx *cur, emu_stream **out) {
    CUresult rc = emu_stream_get_locked(h, cur, out);
    if (rc == CUDA_SUCCESS && (*out)->ctx != cur) {
        rc = CUDA_ERROR_INVALID_HANDLE; /* a stream of another context */
    }
    return rc;
}

static CUresult create(CUstream *phStream, unsigned int Flags, int priority) {
    if (phStream == NULL || (Flags & ~(unsigned) CU_STREAM_NON_BLOCKING) != 0) {
        return CUDA_ERROR_INVALID_VALUE;
    }
    priority = priority > 0 ? 0 : priority < -5 ? -5 : priority; /* cuCtxGetStreamPriorityRange: [-5, 0] */
    EMU_LOCK();
    emu_ctx *c;
    emu_stream *s;
    CUresult rc = emu_enter_locked(&c);
    if (rc == CUDA_SUCCESS && (rc = emu_stream_new_locked(c, EMU_STREAM_USER, Flags, priority, &s)) == CUDA_SUCCESS) {
        *phStream = (CUstream) s->handle;
    }
    EMU_UNLOCK();
    return rc;
}

CUresult cuStreamCreate(CUstream *phStream, unsigned int Flags) {
    return create(phStream, Flags, 0);
}

CUresult cuStreamCreateWithPriority(CUstream *phStream, unsigned int flags, int priority) {
    return create(phStream, flags, priority);
}

CUresult cuStreamDestroy_v2(CUstream hStream) {
    EMU_LOCK();
    emu_stream *s;
    CUresult rc = emu_ready_locked();
    if (rc == CUDA_SUCCESS && (hStream == NULL || hStream == CU_STREAM_LEGACY || hStream == CU_STREAM_PER_THREAD)) {
        rc = CUDA_ERROR_INVALID_HANDLE;
    }
    if (rc == CUDA_SUCCESS && (rc = emu_stream_get_locked(hStream, NULL, &s)) == CUDA_SUCCESS) {
        rc = s->ctx->sticky;
    }
    if (rc == CUDA_SUCCESS) {
        s->live = 0;
        s->closing = 1; /* its thread finishes the queued work, then exits; the reaper joins it */
        emu_stream_unref_locked(s);
        emu_broadcast_locked();
        emu_streams_reap_locked();
    }
    EMU_UNLOCK();
    return rc;
}

/* The work a synchronisation of s must wait for: the legacy stream's includes blocking streams'. */
static int stream_idle_locked(emu_stream *s) {
    if (!emu_stream_done(s, s->submitted)) {
        return 0;
    }
    if (s->kind == EMU_STREAM_LEGACY) {
        for (emu_stream *t = emu_streams_first_locked(); t != NULL; t = t->next) {
            if (t->ctx == s->ctx && emu_stream_blocking(t) && !emu_stream_done(t, t->submitted)) {
                return 0;
            }
        }
    }
    return 1;
}

CUresult cuStreamSynchronize(CUstream hStream) {
    EMU_LOCK();
    emu_stream *s;
    CUresult rc = emu_stream_get_locked(hStream, NULL, &s);
    uint64_t seq = 0;
    if (rc == CUDA_SUCCESS && s->kind == EMU_STREAM_LEGACY) {
        emu_op *marker = emu_op_marker(); /* queued like any op, it also waits for the blocking streams */
        if (marker == NULL) {
            rc = CUDA_ERROR_OUT_OF_MEMORY;
        } else {
            seq = emu_submit_locked(s, marker);
        }
    } else if (rc == CUDA_SUCCESS) {
        seq = s->submitted;
    }
    if (rc == CUDA_SUCCESS) {
        rc = emu_stream_wait_locked(s, seq);
    }
    EMU_UNLOCK();
    return rc;
}

CUresult cuStreamQuery(CUstream hStream) {
    EMU_LOCK();
    emu_stream *s;
    CUresult rc = emu_stream_get_locked(hStream, NULL, &s);
    if (rc == CUDA_SUCCESS) {
        rc = s->ctx->sticky != CUDA_SUCCESS ? s->ctx->sticky : stream_idle_locked(s) ? CUDA_SUCCESS : CUDA_ERROR_NOT_READY;
    }
    EMU_UNLOCK();
    return rc;
}

/* What the cuStreamGet* calls report of a stream, read under the lock. */
typedef struct stream_facts {
    uintptr_t ctx;
    unsigned flags;
    int priority;
    uint64_t id;
} stream_facts;

/* The facts of hStream (a stream of any context), for a getter whose out pointer is out. */
static CUresult stream_facts_of(CUstream hStream, const void *out, stream_facts *f) {
    if (out == NULL) {
        return CUDA_ERROR_INVALID_VALUE;
    }
    EMU_LOCK();
    emu_stream *s;
    CUresult rc = emu_stream_get_locked(hStream, NULL, &s);
    if (rc == CUDA_SUCCESS) {
        *f = (stream_facts){.ctx = s->ctx->handle, .flags = s->flags, .priority = s->priority, .id = s->id};
    }
    EMU_UNLOCK();
    return rc;
}

CUresult cuStreamGetCtx(CUstream hStream, CUcontext *pctx) {
    stream_facts f;
    CUresult rc = stream_facts_of(hStream, pctx, &f);
    if (rc == CUDA_SUCCESS) {
        *pctx = (CUcontext) f.ctx;
    }
    return rc;
}

CUresult cuStreamGetFlags(CUstream hStream, unsigned int *flags) {
    stream_facts f;
    CUresult rc = stream_facts_of(hStream, flags, &f);
    if (rc == CUDA_SUCCESS) {
        *flags = f.flags;
    }
    return rc;
}

CUresult cuStreamGetPriority(CUstream hStream, int *priority) {
    stream_facts f;
    CUresult rc = stream_facts_of(hStream, priority, &f);
    if (rc == CUDA_SUCCESS) {
        *priority = f.priority;
    }
    return rc;
}

CUresult cuStreamGetId(CUstream hStream, unsigned long long *streamId) {
    stream_facts f;
    CUresult rc = stream_facts_of(hStream, streamId, &f);
    if (rc == CUDA_SUCCESS) {
        *streamId = f.id;
    }
    return rc;
}

typedef struct host_call {
    CUstream handle;     /* as the caller named the stream: callbacks are given it back */
    CUstreamCallback callback;
    CUhostFn fn;
    void *user_data;
} host_call;

static CUresult run_host_call(emu_op *op) {
    host_call *h = (host_call *) op->payload;
    if (h->callback != NULL) {
        h->callback(h->handle, op->status, h->user_data);
    } else {
        h->fn(h->user_data);
    }
    return CUDA_SUCCESS;
}

static CUresult enqueue_host_call(CUstream hStream, host_call call) {
    EMU_LOCK();
    emu_ctx *c;
    emu_stream *s;
    CUresult rc = emu_enter_locked(&c);
    if (rc == CUDA_SUCCESS) {
        rc = emu_stream_of_ctx_locked(hStream, c, &s);
    }
    emu_op *op = NULL;
    if (rc == CUDA_SUCCESS && (op = emu_op_new(sizeof call)) == NULL) {
        rc = CUDA_ERROR_OUT_OF_MEMORY;
    }
    if (rc == CUDA_SUCCESS) {
        *(host_call *) op->payload = call;
        op->run = run_host_call;
        op->work = 1;
        op->always = call.callback != NULL; /* a callback learns of the error; a host function is skipped */
        emu_submit_locked(s, op);
    }
    EMU_UNLOCK();
    return rc;
}

CUresult cuStreamAddCallback(CUstream hStream, CUstreamCallback callback, void *userData, unsigned int flags) {
    if (callback == NULL || flags != 0) {
        return CUDA_ERROR_INVALID_VALUE;
    }
    return enqueue_host_call(hStream, (host_call){.handle = hStream, .callback = callback, .user_data = userData});
}

CUresult cuLaunchHostFunc(CUstream hStream, CUhostFn fn, void *userData) {
    if (fn == NULL) {
        return CUDA_ERROR_INVALID_VALUE;
    }
    return enqueue_host_call(hStream, (host_call){.handle = hStream, .fn = fn, .user_data = userData});
}
