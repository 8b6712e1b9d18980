/* The calling thread's last error: set by every failing call, read by lmcache4j_last_error. */
#include <stdio.h>

#include "internal.h"

#define ERROR_CAPACITY 2048

static __thread char last_error[ERROR_CAPACITY];

int lmc_fail(int status, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(last_error, sizeof last_error, fmt, ap);
    va_end(ap);
    return status;
}

void lmc_clear_error(void) {
    last_error[0] = '\0';
}

char *lmc_error_buffer(size_t *capacity) {
    *capacity = sizeof last_error;
    return last_error;
}

LMCACHE4J_API const char *lmcache4j_last_error(void) {
    return last_error;
}

LMCACHE4J_API const char *lmcache4j_status_name(int status) {
    switch (status) {
    case LMCACHE4J_OK: return "LMCACHE4J_OK";
    case LMCACHE4J_ERR_INVALID_ARGUMENT: return "LMCACHE4J_ERR_INVALID_ARGUMENT";
    case LMCACHE4J_ERR_STATE: return "LMCACHE4J_ERR_STATE";
    case LMCACHE4J_ERR_CLOSED: return "LMCACHE4J_ERR_CLOSED";
    case LMCACHE4J_ERR_JVM: return "LMCACHE4J_ERR_JVM";
    case LMCACHE4J_ERR_NO_MEMORY: return "LMCACHE4J_ERR_NO_MEMORY";
    case LMCACHE4J_ERR_UNSUPPORTED: return "LMCACHE4J_ERR_UNSUPPORTED";
    case LMCACHE4J_ERR_INTERNAL: return "LMCACHE4J_ERR_INTERNAL";
    default: return "LMCACHE4J_UNKNOWN_STATUS";
    }
}

LMCACHE4J_API int lmcache4j_abi_version(void) {
    return LMCACHE4J_ABI_VERSION;
}
