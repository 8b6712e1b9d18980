/* Binding org.lmcache4j.bridge.NativeBridge, and turning its results into statuses and messages. */
#include <stdio.h>
#include <string.h>

#include "internal.h"

#define BRIDGE_CLASS "org/lmcache4j/bridge/NativeBridge"

lmc_bridge lmc_java;

int lmc_exception(JNIEnv *env, int status, const char *what) {
    jthrowable t = (*env)->ExceptionOccurred(env);
    if (!t) return lmc_fail(status, "%s failed", what);
    (*env)->ExceptionClear(env);
    const char *detail = "(no description)";
    jclass object = (*env)->FindClass(env, "java/lang/Object");
    jmethodID to_string = object ? (*env)->GetMethodID(env, object, "toString", "()Ljava/lang/String;") : NULL;
    jstring s = to_string ? (jstring)(*env)->CallObjectMethod(env, t, to_string) : NULL;
    const char *chars = s ? (*env)->GetStringUTFChars(env, s, NULL) : NULL;
    if ((*env)->ExceptionCheck(env)) (*env)->ExceptionClear(env);
    if (chars) detail = chars;
    int rc = lmc_fail(status, "%s: %s", what, detail);
    if (chars) (*env)->ReleaseStringUTFChars(env, s, chars);
    if (s) (*env)->DeleteLocalRef(env, s);
    if (object) (*env)->DeleteLocalRef(env, object);
    (*env)->DeleteLocalRef(env, t);
    return rc;
}

static int method(JNIEnv *env, jmethodID *id, const char *name, const char *signature) {
    *id = (*env)->GetStaticMethodID(env, lmc_java.cls, name, signature);
    if (*id) return LMCACHE4J_OK;
    char what[256];
    snprintf(what, sizeof what, "the engine jar does not match this library (no %s%s in " BRIDGE_CLASS ")",
             name, signature);
    return lmc_exception(env, LMCACHE4J_ERR_JVM, what);
}

int lmc_bind_bridge(JNIEnv *env) {
    jclass local = (*env)->FindClass(env, BRIDGE_CLASS);
    if (!local) {
        return lmc_exception(env, LMCACHE4J_ERR_JVM, "the JVM cannot load the engine's bridge class"
                             " org.lmcache4j.bridge.NativeBridge (is the engine jar on its class path?)");
    }
    lmc_java.cls = (jclass)(*env)->NewGlobalRef(env, local);
    (*env)->DeleteLocalRef(env, local);
    int rc = method(env, &lmc_java.abi_version, "abiVersion", "()I");
    if (!rc) rc = method(env, &lmc_java.open, "open", "(JIJIIIIJIIIJIJIII)J");
    if (!rc) rc = method(env, &lmc_java.register_kv_caches, "registerKvCaches", "(JJII)J");
    if (!rc) rc = method(env, &lmc_java.lookup, "lookup", "(JJIJIJIJI)J");
    if (!rc) rc = method(env, &lmc_java.store, "store", "(JJIJIJJIIJ)J");
    if (!rc) rc = method(env, &lmc_java.retrieve, "retrieve", "(JJIJIJJIIJ)J");
    if (!rc) rc = method(env, &lmc_java.unpin, "unpin", "(JJI)J");
    if (!rc) rc = method(env, &lmc_java.stats, "stats", "(JJI)J");
    if (!rc) rc = method(env, &lmc_java.config_json, "configJson", "(JJI)J");
    if (!rc) rc = method(env, &lmc_java.clear, "clear", "(J)J");
    if (!rc) rc = method(env, &lmc_java.close, "close", "(J)J");
    if (!rc) rc = method(env, &lmc_java.wait_transfers, "waitTransfers", "(J)J");
    if (!rc) rc = method(env, &lmc_java.serve_lookups, "serveLookups", "(JJI)J");
    if (!rc) rc = method(env, &lmc_java.take_error, "takeError", "(JI)I");
    if (!rc) rc = method(env, &lmc_java.record_kv_events, "recordKvEvents", "(JI)J");
    if (!rc) rc = method(env, &lmc_java.take_kv_events, "takeKvEvents", "(JJJ)J");
    if (!rc) rc = method(env, &lmc_java.metrics, "metrics", "(JZJI)J");
    if (!rc) rc = method(env, &lmc_java.count_prompt, "countPrompt", "(JII)J");
    if (!rc) rc = method(env, &lmc_java.prefetch, "prefetch", "(JJIJIJIJI)J");
    if (!rc) rc = method(env, &lmc_java.prefetch_state, "prefetchState", "(JJ)J");
    if (!rc) rc = method(env, &lmc_java.prefetch_await, "prefetchAwait", "(JJJ)J");
    if (!rc) rc = method(env, &lmc_java.prefetch_cancel, "prefetchCancel", "(JJ)J");
    if (!rc) rc = method(env, &lmc_java.prefetch_close, "prefetchClose", "(JJ)J");
    if (!rc) rc = method(env, &lmc_java.lookup_tiers, "lookupTiers", "(JJIJIJIJI)J");
    /* layerwise */
    if (!rc) rc = method(env, &lmc_java.store_layers, "storeLayers", "(JJIJIJJIIJJ)J");
    if (!rc) rc = method(env, &lmc_java.retrieve_layers, "retrieveLayers", "(JJIJIJJIIJJ)J");
    if (!rc) rc = method(env, &lmc_java.copy_layer, "copyLayer", "(JJI)J");
    if (!rc) rc = method(env, &lmc_java.await_layer, "awaitLayer", "(JJI)J");
    if (!rc) rc = method(env, &lmc_java.close_layers, "closeLayers", "(JJ)J");
    if (rc) return rc;
    jint abi = (*env)->CallStaticIntMethod(env, lmc_java.cls, lmc_java.abi_version);
    if ((*env)->ExceptionCheck(env)) return lmc_exception(env, LMCACHE4J_ERR_JVM, "NativeBridge.abiVersion");
    if (abi != LMCACHE4J_ABI_VERSION) {
        return lmc_fail(LMCACHE4J_ERR_JVM, "the engine jar implements C ABI version %d and this library version %d:"
                        " use a jar and a library from the same build", (int)abi, LMCACHE4J_ABI_VERSION);
    }
    return LMCACHE4J_OK;
}

int lmc_finish(JNIEnv *env, jlong result, int64_t *out) {
    if ((*env)->ExceptionCheck(env)) return lmc_exception(env, LMCACHE4J_ERR_INTERNAL, "the engine's bridge");
    if (result >= 0) {
        if (out) *out = (int64_t)result;
        lmc_clear_error();
        return LMCACHE4J_OK;
    }
    size_t capacity;
    char *message = lmc_error_buffer(&capacity);
    (*env)->CallStaticIntMethod(env, lmc_java.cls, lmc_java.take_error, (jlong)(uintptr_t)message, (jint)capacity);
    if ((*env)->ExceptionCheck(env)) {
        (*env)->ExceptionClear(env);
        snprintf(message, capacity, "(the engine's message could not be read)");
    }
    int status = (int)-result;
    return status > LMCACHE4J_OK && status <= LMCACHE4J_ERR_INTERNAL ? status : LMCACHE4J_ERR_INTERNAL;
}
