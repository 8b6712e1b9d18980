/* See java_baseline.h. Finds the JVM that liblmcache4j.so started, and calls BridgeBenchmark. */
#include <dlfcn.h>
#include <jni.h>
#include <stdio.h>

#include "java_baseline.h"

typedef jint(JNICALL *created_vms_fn)(JavaVM **, jsize, jsize *);

static JNIEnv *attached_env(void) {
    created_vms_fn created = (created_vms_fn)dlsym(RTLD_DEFAULT, "JNI_GetCreatedJavaVMs");
    JavaVM *vm;
    jsize count = 0;
    JNIEnv *env = NULL;
    if (!created || created(&vm, 1, &count) != JNI_OK || count < 1) {
        fprintf(stderr, "l4jbench: no JVM in this process: open an engine first\n");
        return NULL;
    }
    if ((*vm)->GetEnv(vm, (void **)&env, JNI_VERSION_21) == JNI_EDETACHED &&
        (*vm)->AttachCurrentThreadAsDaemon(vm, (void **)&env, NULL) != JNI_OK) {
        return NULL;
    }
    return env;
}

static jclass baseline_class(JNIEnv *env) {
    static jclass cls;
    if (!cls) {
        jclass local = (*env)->FindClass(env, "org/lmcache4j/bridge/BridgeBenchmark");
        if (!local) {
            (*env)->ExceptionDescribe(env);
            return NULL;
        }
        cls = (jclass)(*env)->NewGlobalRef(env, local);
    }
    return cls;
}

static int finish(JNIEnv *env, jlong nanos, int64_t *out) {
    if ((*env)->ExceptionCheck(env)) {
        (*env)->ExceptionDescribe(env);
        return -1;
    }
    if (nanos < 0) {
        fprintf(stderr, "l4jbench: a Java-API call moved fewer tokens than asked\n");
        return -1;
    }
    *out = (int64_t)nanos;
    return 0;
}

int l4jb_java_lookup_nanos(uint64_t engine, const int32_t *tokens, int32_t n, int32_t iterations, int64_t *out) {
    JNIEnv *env = attached_env();
    jclass cls = env ? baseline_class(env) : NULL;
    if (!cls) return -1;
    jmethodID m = (*env)->GetStaticMethodID(env, cls, "lookupNanos", "(JJII)J");
    if (!m) return finish(env, -1, out);
    return finish(env, (*env)->CallStaticLongMethod(env, cls, m, (jlong)engine, (jlong)(uintptr_t)tokens, n, iterations),
                  out);
}

int l4jb_java_transfer_nanos(uint64_t engine, int retrieve, const int32_t *tokens, const int64_t *slots, int32_t n,
                             int32_t iterations, int64_t *out) {
    JNIEnv *env = attached_env();
    jclass cls = env ? baseline_class(env) : NULL;
    if (!cls) return -1;
    jmethodID m = (*env)->GetStaticMethodID(env, cls, "transferNanos", "(JZJJII)J");
    if (!m) return finish(env, -1, out);
    return finish(env, (*env)->CallStaticLongMethod(env, cls, m, (jlong)engine, (jboolean)(retrieve != 0),
                                                    (jlong)(uintptr_t)tokens, (jlong)(uintptr_t)slots, n, iterations),
                  out);
}
