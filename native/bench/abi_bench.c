/*
 * What the C ABI costs, measured against the Java API in the same JVM and the same run:
 *   1. a lookup of 8k tokens (cached): per-call time through lmcache4j_lookup vs CacheEngine.lookup;
 *   2. store and retrieve bandwidth of 2048 tokens of a Mistral-7B layout (32 x 8 x 128 bf16,
 *      16-token blocks in shuffled order) through the ABI vs the Java API.
 * Rounds alternate between the two and the medians are reported.
 *   build/abi_bench [rounds]      (make -C native bench; see docs/benchmarks.md)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "java_baseline.h"
#include "bench_util.h"
#include "lmcache4j.h"

#define ROUNDS_MAX 64


static lmcache4j_engine open_engine(int layers, int heads, int head_size, int blocks, const char *settings,
                                    unsigned char ***caches) {
    lmcache4j_layout layout = {sizeof layout, layers, heads, head_size, "bfloat16", 16, blocks, "flash_attn"};
    lmcache4j_options options = {sizeof options, settings, "bench", 1, 0};
    lmcache4j_engine e;
    OK(lmcache4j_open(NULL, &layout, &options, &e));
    size_t bytes = (size_t)2 * blocks * 16 * heads * head_size * 2;
    uint64_t *addresses = calloc((size_t)layers, sizeof *addresses);
    *caches = calloc((size_t)layers, sizeof **caches);
    for (int l = 0; l < layers; l++) {
        (*caches)[l] = aligned_alloc(2 << 20, bytes);
        memset((*caches)[l], l + 1, bytes); /* fault the pages in before timing */
        addresses[l] = (uint64_t)(uintptr_t)(*caches)[l];
    }
    OK(lmcache4j_register_kv_caches(e, addresses, layers, -1));
    free(addresses);
    return e;
}

static void lookup_overhead(int rounds) {
    enum { N = 8192, ITERS = 2000 };
    unsigned char **caches;
    lmcache4j_engine e = open_engine(1, 1, 64, 1024, "{\"chunk_size\": 256, \"max_local_cpu_size\": 0.1}", &caches);
    static int32_t tokens[N];
    static int64_t slots[N];
    for (int i = 0; i < N; i++) tokens[i] = (int32_t)((i * 7919) % 32000), slots[i] = i * 2;
    int64_t n;
    OK(lmcache4j_store(e, NULL, tokens, slots, N, 0, &n));
    double java[ROUNDS_MAX], abi[ROUNDS_MAX];
    int64_t nanos;
    for (int w = 0; w < 3; w++) { /* warm both paths up (JIT) */
        OK(l4jb_java_lookup_nanos(e, tokens, N, ITERS, &nanos));
        for (int i = 0; i < ITERS; i++) OK(lmcache4j_lookup(e, NULL, tokens, N, NULL, &n));
    }
    for (int r = 0; r < rounds; r++) {
        OK(l4jb_java_lookup_nanos(e, tokens, N, ITERS, &nanos));
        java[r] = nanos / 1e3 / ITERS;
        int64_t t0 = now_ns();
        for (int i = 0; i < ITERS; i++) OK(lmcache4j_lookup(e, NULL, tokens, N, NULL, &n));
        abi[r] = (now_ns() - t0) / 1e3 / ITERS;
    }
    if (n != N) fprintf(stderr, "lookup hit %lld of %d\n", (long long)n, N);
    double j = median(java, rounds), a = median(abi, rounds);
    printf("lookup of %d tokens (cached), %d rounds of %d calls, median us/call:\n", N, rounds, ITERS);
    printf("  java API   %8.2f us\n  C ABI      %8.2f us\n  overhead   %8.2f us  (target < 50)\n", j, a, a - j);
    OK(lmcache4j_close(e));
    free(caches[0]);
    free(caches);
}

static void bandwidth(int rounds) {
    enum { LAYERS = 32, N = 2048, BLOCKS = 256, ITERS = 3 };
    unsigned char **caches;
    lmcache4j_engine e = open_engine(LAYERS, 8, 128, BLOCKS, "{\"chunk_size\": 256, \"max_local_cpu_size\": 1.0}", &caches);
    int32_t *tokens = malloc(N * sizeof *tokens);
    int64_t *slots = malloc(N * sizeof *slots);
    int order[BLOCKS];
    for (int b = 0; b < BLOCKS; b++) order[b] = b;
    srand(7);
    for (int b = BLOCKS - 1; b > 0; b--) {
        int k = rand() % (b + 1), t = order[b];
        order[b] = order[k], order[k] = t;
    }
    for (int i = 0; i < N; i++) tokens[i] = i + 11, slots[i] = (int64_t)order[i / 16] * 16 + i % 16;
    double bytes = (double)N * LAYERS * 2 * 8 * 128 * 2;
    const char *names[2] = {"store", "retrieve"};
    int64_t n, nanos;
    for (int op = 0; op < 2; op++) {
        double java[ROUNDS_MAX], abi[ROUNDS_MAX];
        if (op == 1) OK(lmcache4j_store(e, NULL, tokens, slots, N, 0, &n));
        for (int r = -1; r < rounds; r++) { /* round -1 warms up */
            OK(l4jb_java_transfer_nanos(e, op, tokens, slots, N, ITERS, &nanos));
            double j = bytes * ITERS / nanos;
            int64_t total = 0;
            for (int i = 0; i < ITERS; i++) {
                if (op == 0) OK(lmcache4j_clear(e));
                int64_t t0 = now_ns();
                OK(op == 0 ? lmcache4j_store(e, NULL, tokens, slots, N, 0, &n)
                           : lmcache4j_retrieve(e, NULL, tokens, slots, N, 0, &n));
                total += now_ns() - t0;
                if (n != N) fprintf(stderr, "%s moved %lld of %d tokens\n", names[op], (long long)n, N);
            }
            if (r >= 0) java[r] = j, abi[r] = bytes * ITERS / total;
        }
        double j = median(java, rounds), a = median(abi, rounds);
        printf("%-8s %d tokens (%.0f MiB), median GB/s: java API %6.2f   C ABI %6.2f   ratio %.2f\n", names[op], N,
               bytes / (1 << 20), j, a, a / j);
    }
    OK(lmcache4j_close(e));
    for (int l = 0; l < LAYERS; l++) free(caches[l]);
    free(caches);
    free(tokens);
    free(slots);
}

int main(int argc, char **argv) {
    int rounds = argc > 1 ? atoi(argv[1]) : 7;
    if (rounds < 1 || rounds > ROUNDS_MAX) rounds = 7;
    lookup_overhead(rounds);
    bandwidth(rounds);
    return 0;
}
