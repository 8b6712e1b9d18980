/* Internal declarations of liblmcache4j.so: nothing here is part of the ABI. */
#ifndef LMCACHE4J_INTERNAL_H
#define LMCACHE4J_INTERNAL_H

#include <jni.h>
#include <stdarg.h>

#include "lmcache4j.h"

#define LMC_HIDDEN __attribute__((visibility("hidden")))

/* errors.c: the calling thread's last error message. */
LMC_HIDDEN int lmc_fail(int status, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
LMC_HIDDEN void lmc_clear_error(void);
LMC_HIDDEN char *lmc_error_buffer(size_t *capacity);

/* jvm.c: a JNIEnv for the calling thread, starting or joining the JVM on first use. */
LMC_HIDDEN int lmc_env(JNIEnv **env);

/* The bridge class org.lmcache4j.bridge.NativeBridge and its entry points (bridge.c). */
typedef struct lmc_bridge {
    jclass cls;
    jmethodID abi_version, open, register_kv_caches, lookup, store, retrieve, unpin, stats,
        config_json, clear, close, serve_lookups, take_error, wait_transfers, record_kv_events, take_kv_events,
        metrics, count_prompt;
    jmethodID prefetch, prefetch_state, prefetch_await, prefetch_cancel, prefetch_close, lookup_tiers; /* version 4 */
    jmethodID store_layers, retrieve_layers, copy_layer, await_layer, close_layers; /* layerwise */
} lmc_bridge;

LMC_HIDDEN extern lmc_bridge lmc_java;

/* Resolves lmc_java with env; called once, under the JVM start lock. */
LMC_HIDDEN int lmc_bind_bridge(JNIEnv *env);

/* Turns a bridge result (>= 0, or -status) into a status; fetches the message on failure. */
LMC_HIDDEN int lmc_finish(JNIEnv *env, jlong result, int64_t *out);

/* A pending Java exception as a status and message (for JNI failures outside the bridge). */
LMC_HIDDEN int lmc_exception(JNIEnv *env, int status, const char *what);

#endif
