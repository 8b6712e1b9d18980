/*
 * What client mode costs, against an embedded engine in the same process and run, on the same
 * caches, tokens and slots (docs/benchmarks.md, "Client mode"):
 *   1. a lookup of 8k cached tokens: lmcache4j_lookup through the server's socket vs in this JVM;
 *   2. store and retrieve bandwidth of 2048 tokens of a Mistral-7B layout (32 x 8 x 128 bf16,
 *      16-token blocks in shuffled order): the client's own copies to the shared pool vs the
 *      embedded engine's.
 * Rounds alternate between the two and the medians are reported. Start the server first:
 *   ./lmcache4j server --socket /tmp/l4jb/s.sock &     (a 0700 directory)
 *   native/build/client_bench /tmp/l4jb/s.sock [rounds]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench_util.h"
#include "lmcache4j.h"

#define ROUNDS_MAX 64
#define LAYERS 32
#define BLOCKS 256


/* server NULL: an engine in this process (the settings say so, whatever the environment says). */
static lmcache4j_engine open_engine(const char *server, const uint64_t *caches) {
    lmcache4j_layout layout = {sizeof layout, LAYERS, 8, 128, "bfloat16", 16, BLOCKS, "flash_attn"};
    char settings[256];
    snprintf(settings, sizeof settings, "{\"chunk_size\": 256, \"max_local_cpu_size\": 1.5, \"lmcache4j.server\": \"%s%s\"}",
             server ? "unix://" : "", server ? server : "");
    lmcache4j_options options = {sizeof options, settings, "bench", 1, 0};
    lmcache4j_engine e;
    OK(lmcache4j_open(NULL, &layout, &options, &e));
    OK(lmcache4j_register_kv_caches(e, caches, LAYERS, -1));
    return e;
}

/* One timed call of store (op 0, after a clear) or retrieve (op 1); its nanoseconds. */
static int64_t timed(lmcache4j_engine e, int op, const int32_t *tokens, const int64_t *slots, int n) {
    int64_t moved;
    if (op == 0) OK(lmcache4j_clear(e));
    int64_t t0 = now_ns();
    OK(op == 0 ? lmcache4j_store(e, NULL, tokens, slots, (size_t)n, 0, &moved)
               : lmcache4j_retrieve(e, NULL, tokens, slots, (size_t)n, 0, &moved));
    int64_t t = now_ns() - t0;
    if (moved != n) fprintf(stderr, "%s moved %lld of %d tokens\n", op ? "retrieve" : "store", (long long)moved, n);
    return t;
}

static double lookup_us(lmcache4j_engine e, const int32_t *tokens, int n, int iters) {
    int64_t hit, t0 = now_ns();
    for (int i = 0; i < iters; i++) OK(lmcache4j_lookup(e, NULL, tokens, (size_t)n, NULL, &hit));
    if (hit != n) fprintf(stderr, "lookup hit %lld of %d\n", (long long)hit, n);
    return (now_ns() - t0) / 1e3 / iters;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: %s SERVER_SOCKET [rounds]\n", argv[0]);
        return 2;
    }
    int rounds = argc > 2 ? atoi(argv[2]) : 7;
    if (rounds < 1 || rounds > ROUNDS_MAX) rounds = 7;
    enum { N = 2048, LOOKUP_N = 8192, ITERS = 3, LOOKUP_ITERS = 2000 };
    size_t bytes = (size_t)2 * BLOCKS * 16 * 8 * 128 * 2;
    uint64_t caches[LAYERS];
    for (int l = 0; l < LAYERS; l++) {
        unsigned char *c = aligned_alloc(2 << 20, bytes);
        memset(c, l + 1, bytes); /* fault the pages in before timing */
        caches[l] = (uint64_t)(uintptr_t)c;
    }
    lmcache4j_engine embedded = open_engine(NULL, caches), client = open_engine(argv[1], caches);
    lmcache4j_engine engines[2] = {embedded, client};

    static int32_t tokens[LOOKUP_N];
    static int64_t slots[LOOKUP_N];
    int order[BLOCKS];
    for (int b = 0; b < BLOCKS; b++) order[b] = b;
    srand(7);
    for (int b = BLOCKS - 1; b > 0; b--) {
        int k = rand() % (b + 1), t = order[b];
        order[b] = order[k], order[k] = t;
    }
    for (int i = 0; i < N; i++) tokens[i] = i + 11, slots[i] = (int64_t)order[i / 16] * 16 + i % 16;
    double moved = (double)N * LAYERS * 2 * 8 * 128 * 2;
    const char *names[2] = {"store", "retrieve"};
    for (int op = 0; op < 2; op++) {
        double gbps[2][ROUNDS_MAX];
        for (int side = 0; side < 2 && op == 1; side++) timed(engines[side], 0, tokens, slots, N);
        for (int r = -1; r < rounds; r++) { /* round -1 warms up */
            for (int side = 0; side < 2; side++) {
                int64_t total = 0;
                for (int i = 0; i < ITERS; i++) total += timed(engines[side], op, tokens, slots, N);
                if (r >= 0) gbps[side][r] = moved * ITERS / total;
            }
        }
        double e = median(gbps[0], rounds), c = median(gbps[1], rounds);
        printf("%-8s %d tokens (%.0f MiB), median GB/s: embedded %6.2f   client %6.2f   ratio %.2f (target >= 0.9)\n",
               names[op], N, moved / (1 << 20), e, c, c / e);
    }

    /* Lookups of 8192 cached tokens: 32 chunks, hashed and walked, plus the socket's round trip. */
    for (int i = 0; i < LOOKUP_N; i++) tokens[i] = (int32_t)((i * 7919) % 32000), slots[i] = i % (BLOCKS * 16);
    for (int side = 0; side < 2; side++) {
        int64_t n;
        OK(lmcache4j_clear(engines[side]));
        OK(lmcache4j_store(engines[side], NULL, tokens, slots, LOOKUP_N, 0, &n));
    }
    double us[2][ROUNDS_MAX];
    for (int r = -1; r < rounds; r++) {
        for (int side = 0; side < 2; side++) {
            double t = lookup_us(engines[side], tokens, LOOKUP_N, LOOKUP_ITERS);
            if (r >= 0) us[side][r] = t;
        }
    }
    printf("lookup of %d tokens (cached), median us/call: embedded %.2f   client %.2f   (target < 100)\n", LOOKUP_N,
           median(us[0], rounds), median(us[1], rounds));
    OK(lmcache4j_close(client));
    OK(lmcache4j_close(embedded));
    for (int l = 0; l < LAYERS; l++) free((void *)(uintptr_t)caches[l]);
    return 0;
}
