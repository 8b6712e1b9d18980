/*
 * What the client-mode tests share: a small layout, one process's paged host caches, and KV bytes
 * that every process computes alike for the same tokens, so that a retrieve in one process can be
 * checked byte for byte against what another stored.
 */
#ifndef LMCACHE4J_CLIENT_FIXTURE_H
#define LMCACHE4J_CLIENT_FIXTURE_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"

#define LAYERS 2
#define HEADS 2
#define HEAD_SIZE 16
#define ROW (HEADS * HEAD_SIZE * 2) /* float16 */
#define BLOCK 16
#define BLOCKS 64
#define SLOTS (BLOCKS * BLOCK)
#define CHUNK 16                    /* the server's chunk_size (its configuration file below) */
#define PROMPT 64                   /* four chunks */

/* The layout of every engine (kv_format: flash_attn, or blocks_first for the servers that test it). */
static lmcache4j_layout LAYOUT = {sizeof(lmcache4j_layout), LAYERS, HEADS, HEAD_SIZE, "float16", BLOCK, BLOCKS,
                                  "flash_attn"};

/* One process's paged caches: [2, SLOTS, ROW] per layer (flash_attn) or [BLOCKS, 2, BLOCK, ROW]. */
typedef struct caches {
    unsigned char *layer[LAYERS];
    uint64_t addresses[LAYERS];
} caches;

static void caches_init(caches *c) {
    for (int l = 0; l < LAYERS; l++) {
        c->layer[l] = calloc(2, (size_t)SLOTS * ROW);
        c->addresses[l] = (uint64_t)(uintptr_t)c->layer[l];
    }
}

static void caches_free(caches *c) {
    for (int l = 0; l < LAYERS; l++) free(c->layer[l]);
}

static unsigned char *row(caches *c, int layer, int plane, int64_t slot) {
    if (!strcmp(LAYOUT.kv_format, "blocks_first")) {
        return c->layer[layer] + (((size_t)slot / BLOCK * 2 + (size_t)plane) * BLOCK + (size_t)slot % BLOCK) * ROW;
    }
    return c->layer[layer] + ((size_t)plane * SLOTS + (size_t)slot) * ROW;
}

/* The KV a model would compute for token `token` at position `pos`: the same in every process. */
static unsigned char kv_byte(int32_t token, int pos, int layer, int plane, int i) {
    return (unsigned char)(token * 31 + pos * 7 + layer * 13 + plane * 5 + i);
}

static void prompt(int32_t *tokens, int n, int seed) {
    for (int t = 0; t < n; t++) tokens[t] = seed * 1000 + t;
}

static void slots_from(int64_t *slots, int n, int64_t first) {
    for (int t = 0; t < n; t++) slots[t] = first + t;
}

/* Writes the KV of tokens [0, n) at their slots (-1: none). */
static void compute(caches *c, const int32_t *tokens, const int64_t *slots, int n) {
    for (int t = 0; t < n; t++) {
        if (slots[t] < 0) continue;
        for (int l = 0; l < LAYERS; l++)
            for (int p = 0; p < 2; p++)
                for (int i = 0; i < ROW; i++) row(c, l, p, slots[t])[i] = kv_byte(tokens[t], t, l, p, i);
    }
}

/* Bytes of tokens [0, n) at slots (-1: not looked at) that differ from what compute() writes. */
static long mismatched(caches *c, const int32_t *tokens, const int64_t *slots, int n) {
    long bad = 0;
    for (int t = 0; t < n; t++) {
        if (slots[t] < 0) continue;
        for (int l = 0; l < LAYERS; l++)
            for (int p = 0; p < 2; p++)
                for (int i = 0; i < ROW; i++) bad += row(c, l, p, slots[t])[i] != kv_byte(tokens[t], t, l, p, i);
    }
    return bad;
}

static int64_t stat_of(lmcache4j_engine e, int which) { /* 0: leases, 1: pins */
    lmcache4j_engine_stats s = {.struct_size = sizeof s};
    EXPECT_OK(lmcache4j_stats(e, &s));
    return which ? (int64_t)s.pins : (int64_t)s.leases;
}

static int jvm_in_process(void) {
    FILE *f = fopen("/proc/self/maps", "r");
    char line[1024];
    int found = 0;
    while (f && fgets(line, sizeof line, f)) found |= strstr(line, "libjvm") != NULL;
    if (f) fclose(f);
    return found;
}

static lmcache4j_engine open_client(const char *socket_path) {
    char settings[256];
    snprintf(settings, sizeof settings, "{\"lmcache4j.server\": \"unix://%s\"}", socket_path);
    lmcache4j_options options = {sizeof options, settings, NULL, 0, 0};
    lmcache4j_engine e = 0;
    EXPECT_OK(lmcache4j_open(NULL, &LAYOUT, &options, &e));
    return e;
}

#endif
