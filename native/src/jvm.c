/*
 * Finding a JDK and the engine jar, starting or joining the JVM, and attaching threads.
 *
 * The JVM is found at run time, not at link time: libjvm.so is dlopen'ed from the JDK chosen
 * below, so that a missing or too old JDK is an error code and a message listing what was tried,
 * never a loader failure of liblmcache4j.so itself. If the process already runs a JVM (a Java
 * host, or a Python process that embeds one some other way), it is joined instead; a process can
 * only ever hold one.
 */
#include <dirent.h>
#include <dlfcn.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"

#define MIN_JAVA_MAJOR 25
#define WANTED_JNI_VERSION JNI_VERSION_21
#define JAR_NAME "lmcache4j-engine.jar"

typedef jint(JNICALL *create_vm_fn)(JavaVM **, void **, void *);
typedef jint(JNICALL *created_vms_fn)(JavaVM **, jsize, jsize *);

static pthread_mutex_t start_lock = PTHREAD_MUTEX_INITIALIZER;
static JavaVM *the_vm;              /* published (release) once the bridge is bound */
static int start_failed;            /* a JVM that failed to start cannot be started again */
static char start_failure[1024];
static pid_t vm_pid;
static volatile sig_atomic_t forked; /* this process is a fork() child of the JVM's */
static pthread_key_t detach_key;

/* ---------------------------------------------------------------- a growable string */

typedef struct text {
    char *s;
    size_t len, cap;
} text;

__attribute__((format(printf, 2, 3))) static void text_add(text *t, const char *fmt, ...) {
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        size_t room = t->cap - t->len;
        int n = t->s ? vsnprintf(t->s + t->len, room, fmt, ap) : -1;
        va_end(ap);
        if (n >= 0 && (size_t)n < room) {
            t->len += (size_t)n;
            return;
        }
        size_t cap = t->cap ? t->cap * 2 : 256;
        while (n >= 0 && cap < t->len + (size_t)n + 1) cap *= 2;
        char *s = realloc(t->s, cap);
        if (!s) return; /* the text stays as it was: a shorter message, never a crash */
        t->s = s;
        t->cap = cap;
        if (t->len == 0) t->s[0] = '\0';
    }
}

static const char *text_str(const text *t) {
    return t->s ? t->s : "";
}

/* ---------------------------------------------------------------- the JDK */

/* The feature version in <home>/release ("25.0.3" -> 25, "1.8.0" -> 8), or -1. */
static int java_major(const char *home) {
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/release", home);
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    char line[512];
    int major = -1;
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, "JAVA_VERSION=\"", 14) == 0) {
            char *v = line + 14;
            major = atoi(v);
            if (major == 1 && v[1] == '.') major = atoi(v + 2);
            break;
        }
    }
    fclose(f);
    return major;
}

/* Whether home is a JDK >= 25 with a server VM; if not, why, appended to tried. */
static int usable_jdk(const char *home, const char *source, text *tried, char *libjvm, size_t cap) {
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/lib/server/libjvm.so", home);
    int major = java_major(home);
    const char *why = NULL;
    if (access(path, R_OK) != 0) why = "no lib/server/libjvm.so";
    else if (major < 0) why = "no release file giving its version";
    else if (major < MIN_JAVA_MAJOR) why = "too old";
    if (why) {
        if (major > 0) text_add(tried, "%s%s (Java %d: %s)", tried->len ? "; " : "", source, major, why);
        else text_add(tried, "%s%s (%s)", tried->len ? "; " : "", source, why);
        return 0;
    }
    snprintf(libjvm, cap, "%s", path);
    return major;
}

static int find_jdk(char *libjvm, size_t cap) {
    text tried = {0};
    char source[PATH_MAX + 32];
    const char *explicit_home = getenv("LMCACHE4J_JAVA_HOME");
    if (explicit_home && *explicit_home) {
        snprintf(source, sizeof source, "LMCACHE4J_JAVA_HOME=%s", explicit_home);
        int ok = usable_jdk(explicit_home, source, &tried, libjvm, cap);
        int rc = ok ? 0 : lmc_fail(LMCACHE4J_ERR_JVM, "LMCache4j needs a JDK %d or newer: %s", MIN_JAVA_MAJOR, text_str(&tried));
        free(tried.s);
        return rc;
    }
    const char *java_home = getenv("JAVA_HOME");
    if (java_home && *java_home) {
        snprintf(source, sizeof source, "JAVA_HOME=%s", java_home);
        if (usable_jdk(java_home, source, &tried, libjvm, cap)) {
            free(tried.s);
            return 0;
        }
    }
    /* The newest JDK >= 25 under /usr/lib/jvm. */
    int best = 0;
    char candidate[PATH_MAX];
    struct dirent **entries;
    int n = scandir("/usr/lib/jvm", &entries, NULL, alphasort);
    text seen = {0}; /* Debian links several names to one JDK: judge each real directory once */
    for (int i = 0; i < n; i++) {
        char home[PATH_MAX], real[PATH_MAX + 2], found[PATH_MAX];
        snprintf(home, sizeof home, "/usr/lib/jvm/%s", entries[i]->d_name);
        if (entries[i]->d_name[0] != '.' && realpath(home, real + 1)) {
            real[0] = '|';
            strcat(real, "|");
            if (!strstr(text_str(&seen), real)) {
                text_add(&seen, "%s", real);
                int major = usable_jdk(home, home, &tried, found, sizeof found);
                if (major > best) {
                    best = major;
                    snprintf(candidate, sizeof candidate, "%s", found);
                }
            }
        }
        free(entries[i]);
    }
    if (n >= 0) free(entries);
    free(seen.s);
    int rc = 0;
    if (best) {
        snprintf(libjvm, cap, "%s", candidate);
    } else {
        rc = lmc_fail(LMCACHE4J_ERR_JVM,
                      "LMCache4j needs a JDK %d or newer and found none. Tried: %s. Set LMCACHE4J_JAVA_HOME"
                      " (or JAVA_HOME) to a JDK >= %d, such as /usr/lib/jvm/temurin-25-jdk-amd64.",
                      MIN_JAVA_MAJOR, tried.len ? text_str(&tried) : "JAVA_HOME (unset), /usr/lib/jvm (empty)",
                      MIN_JAVA_MAJOR);
    }
    free(tried.s);
    return rc;
}

/* ---------------------------------------------------------------- the engine jar */

static int readable_file(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode) && access(path, R_OK) == 0;
}

static int find_jar(char *jar, size_t cap) {
    const char *explicit_jar = getenv("LMCACHE4J_JAR");
    if (explicit_jar && *explicit_jar) {
        if (readable_file(explicit_jar)) {
            snprintf(jar, cap, "%s", explicit_jar);
            return 0;
        }
        return lmc_fail(LMCACHE4J_ERR_JVM, "LMCACHE4J_JAR=%s is not a readable file", explicit_jar);
    }
    Dl_info self;
    char dir[PATH_MAX] = ".";
    if (dladdr((void *)find_jar, &self) && self.dli_fname) {
        char real[PATH_MAX];
        if (realpath(self.dli_fname, real)) {
            char *slash = strrchr(real, '/');
            if (slash) *slash = '\0';
            snprintf(dir, sizeof dir, "%s", real);
        }
    }
    static const char *const relative[] = {"", "/../../engine/target", "/../share/lmcache4j"};
    text tried = {0};
    for (size_t i = 0; i < sizeof relative / sizeof *relative; i++) {
        char path[PATH_MAX + 64], real[PATH_MAX];
        snprintf(path, sizeof path, "%s%s/" JAR_NAME, dir, relative[i]);
        if (readable_file(path) && realpath(path, real)) {
            snprintf(jar, cap, "%s", real);
            free(tried.s);
            return 0;
        }
        text_add(&tried, "%s%s", tried.len ? ", " : "", path);
    }
    int rc = lmc_fail(LMCACHE4J_ERR_JVM,
                      "cannot find the LMCache4j engine jar (" JAR_NAME "). Tried: %s. Build it with"
                      " 'mvn -pl engine package', or set LMCACHE4J_JAR to its path.",
                      text_str(&tried));
    free(tried.s);
    return rc;
}

/* The jar, the jars in lib/ beside it (Maven's copy-dependencies), and LMCACHE4J_CLASSPATH. */
static void class_path(const char *jar, text *cp) {
    text_add(cp, "-Djava.class.path=%s", jar);
    char lib[PATH_MAX];
    snprintf(lib, sizeof lib, "%s", jar);
    char *slash = strrchr(lib, '/');
    if (slash) snprintf(slash, sizeof lib - (size_t)(slash - lib), "/lib");
    struct dirent **entries;
    int n = slash ? scandir(lib, &entries, NULL, alphasort) : -1;
    for (int i = 0; i < n; i++) {
        size_t len = strlen(entries[i]->d_name);
        if (len > 4 && strcmp(entries[i]->d_name + len - 4, ".jar") == 0) {
            text_add(cp, ":%s/%s", lib, entries[i]->d_name);
        }
        free(entries[i]);
    }
    if (n >= 0) free(entries);
    const char *extra = getenv("LMCACHE4J_CLASSPATH");
    if (extra && *extra) text_add(cp, ":%s", extra);
}

/* ---------------------------------------------------------------- starting or joining */

static void detach_thread(void *vm) {
    (*(JavaVM *)vm)->DetachCurrentThread((JavaVM *)vm);
}

static void after_fork_in_child(void) {
    if (the_vm) forked = 1;
}

static int attach(JavaVM *vm, JNIEnv **env) {
    jint rc = (*vm)->GetEnv(vm, (void **)env, WANTED_JNI_VERSION);
    if (rc == JNI_OK) return LMCACHE4J_OK;
    if (rc != JNI_EDETACHED) return lmc_fail(LMCACHE4J_ERR_JVM, "the JVM refused this thread (GetEnv: %d)", (int)rc);
    JavaVMAttachArgs args = {WANTED_JNI_VERSION, (char *)"lmcache4j-native", NULL};
    rc = (*vm)->AttachCurrentThreadAsDaemon(vm, (void **)env, &args);
    if (rc != JNI_OK) return lmc_fail(LMCACHE4J_ERR_JVM, "cannot attach this thread to the JVM (%d)", (int)rc);
    pthread_setspecific(detach_key, vm); /* detached when the thread exits */
    return LMCACHE4J_OK;
}

static int create_vm(JavaVM **vm) {
    char libjvm[PATH_MAX], jar[PATH_MAX];
    int rc = find_jdk(libjvm, sizeof libjvm);
    if (rc) return rc;
    rc = find_jar(jar, sizeof jar);
    if (rc) return rc;
    void *lib = dlopen(libjvm, RTLD_NOW | RTLD_GLOBAL);
    if (!lib) return lmc_fail(LMCACHE4J_ERR_JVM, "cannot load %s: %s", libjvm, dlerror());
    create_vm_fn create = (create_vm_fn)dlsym(lib, "JNI_CreateJavaVM");
    if (!create) return lmc_fail(LMCACHE4J_ERR_JVM, "%s has no JNI_CreateJavaVM", libjvm);

    text cp = {0}, opts = {0};
    class_path(jar, &cp);
    const char *user = getenv("LMCACHE4J_JVM_OPTS");
    char *user_copy = strdup(user ? user : "");
    JavaVMOption options[64];
    int n = 0;
    options[n++].optionString = (char *)text_str(&cp);
    options[n++].optionString = (char *)"-Xrs";
    options[n++].optionString = (char *)"--enable-native-access=ALL-UNNAMED";
    char *save = NULL;
    for (char *tok = strtok_r(user_copy, " \t\n", &save); tok && n < 64; tok = strtok_r(NULL, " \t\n", &save)) {
        options[n++].optionString = tok;
    }
    for (int i = 1; i < n; i++) text_add(&opts, " %s", options[i].optionString);
    const char *verbose = getenv("LMCACHE4J_VERBOSE");
    if (verbose && *verbose && strcmp(verbose, "0") != 0) {
        fprintf(stderr, "lmcache4j: starting the JVM of %s with %s%s\n", libjvm, text_str(&cp), text_str(&opts));
    }
    JavaVMInitArgs args = {WANTED_JNI_VERSION, n, options, JNI_FALSE};
    JNIEnv *env;
    jint created = create(vm, (void **)&env, &args);
    if (created != JNI_OK) {
        start_failed = 1;
        rc = lmc_fail(LMCACHE4J_ERR_JVM, "the JVM of %s did not start (JNI_CreateJavaVM: %d) with options%s;"
                      " check LMCACHE4J_JVM_OPTS", libjvm, (int)created, text_str(&opts));
    } else {
        pthread_setspecific(detach_key, *vm); /* this thread was attached by JNI_CreateJavaVM */
    }
    free(user_copy);
    free(cp.s);
    free(opts.s);
    return rc;
}

static int start_locked(void) {
    if (start_failed) return lmc_fail(LMCACHE4J_ERR_JVM, "%s", start_failure);
    static int once;
    if (!once) {
        if (pthread_key_create(&detach_key, detach_thread) != 0) return lmc_fail(LMCACHE4J_ERR_JVM, "pthread_key_create failed");
        pthread_atfork(NULL, NULL, after_fork_in_child);
        once = 1;
    }
    JavaVM *vm = NULL;
    jsize count = 0;
    created_vms_fn created = (created_vms_fn)dlsym(RTLD_DEFAULT, "JNI_GetCreatedJavaVMs");
    if (!created || created(&vm, 1, &count) != JNI_OK || count < 1) {
        vm = NULL;
        int rc = create_vm(&vm);
        if (rc) {
            if (start_failed) snprintf(start_failure, sizeof start_failure, "%s", lmcache4j_last_error());
            return rc;
        }
    }
    JNIEnv *env;
    int rc = attach(vm, &env);
    if (!rc) rc = lmc_bind_bridge(env);
    if (rc) {
        /* The JVM is up but cannot reach the engine: no second chance in this process. */
        start_failed = 1;
        snprintf(start_failure, sizeof start_failure, "%s", lmcache4j_last_error());
        return rc;
    }
    vm_pid = getpid();
    __atomic_store_n(&the_vm, vm, __ATOMIC_RELEASE);
    return LMCACHE4J_OK;
}

int lmc_env(JNIEnv **env) {
    JavaVM *vm = __atomic_load_n(&the_vm, __ATOMIC_ACQUIRE);
    if (!vm) {
        pthread_mutex_lock(&start_lock);
        int rc = the_vm ? LMCACHE4J_OK : start_locked();
        pthread_mutex_unlock(&start_lock);
        if (rc) return rc;
        vm = the_vm;
    }
    if (forked) {
        return lmc_fail(LMCACHE4J_ERR_JVM, "this process is a fork() of process %d, which runs the JVM; a JVM does"
                        " not survive fork(): open engines only after the fork, or start processes with 'spawn'",
                        (int)vm_pid);
    }
    return attach(vm, env);
}
