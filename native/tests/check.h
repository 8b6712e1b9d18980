/* A few assertion macros for the C tests: each failure is printed, and counted in check_failures. */
#ifndef LMCACHE4J_CHECK_H
#define LMCACHE4J_CHECK_H

#include <stdio.h>
#include <string.h>

#include "lmcache4j.h"

static int check_failures;
static int check_count;

#define CHECK(cond, ...)                                                   \
    do {                                                                   \
        check_count++;                                                     \
        if (!(cond)) {                                                     \
            check_failures++;                                              \
            fprintf(stderr, "FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond); \
            fprintf(stderr, __VA_ARGS__);                                  \
            fprintf(stderr, "\n");                                         \
        }                                                                  \
    } while (0)

/* The call returns status, and the thread's message contains text. */
#define EXPECT_STATUS(call, status, text)                                                        \
    do {                                                                                         \
        int got_ = (call);                                                                       \
        const char *msg_ = lmcache4j_last_error();                                               \
        CHECK(got_ == (status) && strstr(msg_, (text)) != NULL, "%s gave %s '%s', expected %s '...%s...'", \
              #call, lmcache4j_status_name(got_), msg_, lmcache4j_status_name(status), (text));  \
    } while (0)

#define EXPECT_OK(call) EXPECT_STATUS(call, LMCACHE4J_OK, "")

#endif
