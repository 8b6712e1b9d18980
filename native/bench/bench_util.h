/* What the C benchmarks share: a monotonic clock, the median of a round's samples, and OK(call). */
#ifndef LMCACHE4J_BENCH_UTIL_H
#define LMCACHE4J_BENCH_UTIL_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "lmcache4j.h"

static inline int64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static inline int cmp(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Sorts v in place. */
static inline double median(double *v, int n) {
    qsort(v, (size_t)n, sizeof *v, cmp);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

#define OK(call)                                                                                      \
    do {                                                                                              \
        if ((call) != 0) {                                                                            \
            fprintf(stderr, "%s failed: %s\n", #call, lmcache4j_last_error());                        \
            exit(1);                                                                                  \
        }                                                                                             \
    } while (0)

#endif
