/*
 * libl4jbench.so: the Java-API baselines of the native benchmarks, run in the caller's JVM on an
 * engine opened through the C ABI (org.lmcache4j.bridge.BridgeBenchmark). Not part of the ABI;
 * C and Python benchmarks load it to compare themselves with the Java API in the same run.
 */
#ifndef L4J_JAVA_BASELINE_H
#define L4J_JAVA_BASELINE_H

#include <stdint.h>

/* Nanoseconds for iterations Java-API lookups of the n tokens; 0, or -1 and a message on stderr. */
int l4jb_java_lookup_nanos(uint64_t engine, const int32_t *tokens, int32_t n, int32_t iterations,
                           int64_t *out_nanos);

/* Nanoseconds for iterations Java-API stores (retrieve = 0; the cache is cleared before each,
 * untimed) or retrieves (retrieve = 1) of the n tokens at their slots. */
int l4jb_java_transfer_nanos(uint64_t engine, int retrieve, const int32_t *tokens, const int64_t *slots,
                             int32_t n, int32_t iterations, int64_t *out_nanos);

#endif
