/*
 * test_client's cases of protocol version 2: prefetches and layer-by-layer copies through a real
 * server (on a disk tier, restarted so that the prompts lie on disk only), a client killed with
 * them open, and the server killed under them; KV events taken by two clients of one server, and
 * after a restart. Included once, after the fixture.
 */
#ifndef LMCACHE4J_CLIENT_OPS_H
#define LMCACHE4J_CLIENT_OPS_H

#include <signal.h>
#include <sys/wait.h>

/* Opens a client with caches registered. */
static lmcache4j_engine ops_client(const char *socket_path, caches *c) {
    lmcache4j_engine e = open_client(socket_path);
    caches_init(c);
    EXPECT_OK(lmcache4j_register_kv_caches(e, c->addresses, LAYERS, LMCACHE4J_DEVICE_HOST));
    return e;
}

/* A disk hit prefetched in the background (pinned for its request), then retrieved byte for byte. */
static void prefetch_cases(lmcache4j_engine e, caches *c) {
    int32_t tokens[PROMPT], unknown[PROMPT];
    int64_t slots[PROMPT], hit = -1, pool = -1, ready = -1, n = -1;
    int32_t state = -1, finished = -1, cancelled = -1;
    prompt(tokens, PROMPT, 21);
    prompt(unknown, PROMPT, 29);
    slots_from(slots, PROMPT, 600);
    EXPECT_OK(lmcache4j_lookup_tiers(e, NULL, tokens, PROMPT, NULL, &hit, &pool));
    CHECK(hit == PROMPT && pool == 0, "prompt 21 should lie on disk only: hit %lld, pool %lld", (long long)hit,
          (long long)pool);
    lmcache4j_prefetch_handle p = 0, q = 0;
    EXPECT_OK(lmcache4j_prefetch(e, NULL, tokens, PROMPT, "req-pf", &p));
    EXPECT_OK(lmcache4j_prefetch_state(e, p, &state, NULL));
    CHECK(state >= LMCACHE4J_PREFETCH_QUEUED && state <= LMCACHE4J_PREFETCH_DONE, "a fresh prefetch is in state %d", state);
    EXPECT_OK(lmcache4j_prefetch_await(e, p, INT64_MAX, &finished));
    EXPECT_OK(lmcache4j_prefetch_state(e, p, &state, &ready));
    CHECK(finished == 1 && state == LMCACHE4J_PREFETCH_DONE && ready == PROMPT,
          "the prefetch: finished %d, state %d, %lld tokens ready", finished, state, (long long)ready);
    CHECK(stat_of(e, 1) == PROMPT / CHUNK, "the prefetch pinned %lld chunks", (long long)stat_of(e, 1));
    EXPECT_OK(lmcache4j_lookup_tiers(e, NULL, tokens, PROMPT, NULL, &hit, &pool));
    CHECK(pool == PROMPT, "after the prefetch, %lld tokens in the pool", (long long)pool);
    EXPECT_OK(lmcache4j_retrieve(e, NULL, tokens, slots, PROMPT, 0, &n));
    CHECK(n == PROMPT && mismatched(c, tokens, slots, PROMPT) == 0, "the prefetched prompt: loaded %lld, or bytes differ",
          (long long)n);
    EXPECT_OK(lmcache4j_prefetch_cancel(e, p, &cancelled));
    CHECK(cancelled == 0, "a finished prefetch was cancelled");
    EXPECT_OK(lmcache4j_unpin(e, "req-pf", &n));
    CHECK(n == PROMPT / CHUNK, "unpinned %lld chunks", (long long)n);
    EXPECT_OK(lmcache4j_prefetch_close(e, p));
    EXPECT_STATUS(lmcache4j_prefetch_close(e, p), LMCACHE4J_ERR_CLOSED, "is closed");
    EXPECT_STATUS(lmcache4j_prefetch_state(e, p, &state, NULL), LMCACHE4J_ERR_CLOSED, "is closed");
    EXPECT_STATUS(lmcache4j_prefetch_state(e, 9999, &state, NULL), LMCACHE4J_ERR_INVALID_ARGUMENT, "not a prefetch");
    EXPECT_STATUS(lmcache4j_prefetch(e, NULL, tokens, PROMPT, "", &q), LMCACHE4J_ERR_INVALID_ARGUMENT, "request id");
    EXPECT_OK(lmcache4j_prefetch(e, NULL, unknown, PROMPT, NULL, &q));
    EXPECT_STATUS(lmcache4j_prefetch_await(e, q, -1, &finished), LMCACHE4J_ERR_INVALID_ARGUMENT, "must not be negative");
    EXPECT_OK(lmcache4j_prefetch_await(e, q, 10000, &finished));
    EXPECT_OK(lmcache4j_prefetch_state(e, q, &state, &ready));
    CHECK(finished == 1 && state == LMCACHE4J_PREFETCH_DONE && ready == 0, "a miss's prefetch: state %d, ready %lld",
          state, (long long)ready);
    EXPECT_OK(lmcache4j_prefetch_close(e, q));
    CHECK(stat_of(e, 0) == 0 && stat_of(e, 1) == 0, "prefetches left leases or pins");
}

/* A store layer by layer from one client, a retrieve layer by layer into another; a store given up. */
static void layered_cases(lmcache4j_engine a, caches *ca, lmcache4j_engine b, caches *cb) {
    int32_t tokens[PROMPT];
    int64_t put[PROMPT], get[PROMPT], n = -1, copied = -1;
    prompt(tokens, PROMPT, 23);
    slots_from(put, PROMPT, 40);
    slots_from(get, PROMPT, 333);
    compute(ca, tokens, put, PROMPT);
    lmcache4j_layered op = 0;
    EXPECT_OK(lmcache4j_store_layers(a, NULL, tokens, put, PROMPT, 0, 0, &op, &n));
    CHECK(n == PROMPT, "store_layers plans %lld tokens", (long long)n);
    EXPECT_OK(lmcache4j_copy_layer(a, op, 0));
    EXPECT_STATUS(lmcache4j_copy_layer(a, op, 0), LMCACHE4J_ERR_INVALID_ARGUMENT, "out of order");
    EXPECT_OK(lmcache4j_lookup(b, NULL, tokens, PROMPT, NULL, &n));
    CHECK(n == 0, "a store with a layer missing is served: hit %lld", (long long)n);
    EXPECT_OK(lmcache4j_copy_layer(a, op, 1));
    EXPECT_OK(lmcache4j_close_layers(a, op, &copied));
    CHECK(copied == LAYERS, "the layered store copied %lld layers", (long long)copied);
    EXPECT_STATUS(lmcache4j_copy_layer(a, op, 0), LMCACHE4J_ERR_INVALID_ARGUMENT, "not an open layer-by-layer");
    EXPECT_OK(lmcache4j_lookup(b, NULL, tokens, PROMPT, NULL, &n));
    CHECK(n == PROMPT, "the layered store is not served whole: hit %lld", (long long)n);
    EXPECT_OK(lmcache4j_retrieve_layers(b, NULL, tokens, get, PROMPT, 0, 0, &op, &n));
    CHECK(n == PROMPT, "retrieve_layers plans %lld tokens", (long long)n);
    EXPECT_STATUS(lmcache4j_await_layer(b, op, 0), LMCACHE4J_ERR_INVALID_ARGUMENT, "has not been copied");
    for (int32_t l = 0; l < LAYERS; l++) {
        EXPECT_OK(lmcache4j_copy_layer(b, op, l));
        EXPECT_OK(lmcache4j_await_layer(b, op, l));
    }
    EXPECT_OK(lmcache4j_close_layers(b, op, &copied));
    CHECK(copied == LAYERS && mismatched(cb, tokens, get, PROMPT) == 0, "the layered retrieve: %lld layers, or bytes "
          "differ", (long long)copied);
    prompt(tokens, PROMPT, 24); /* given up after one layer: nothing published, nothing held */
    compute(ca, tokens, put, PROMPT);
    EXPECT_OK(lmcache4j_store_layers(a, NULL, tokens, put, PROMPT, 0, 0, &op, &n));
    EXPECT_OK(lmcache4j_copy_layer(a, op, 0));
    EXPECT_OK(lmcache4j_close_layers(a, op, &copied));
    EXPECT_OK(lmcache4j_lookup(b, NULL, tokens, PROMPT, NULL, &n));
    CHECK(copied == 1 && n == 0, "a store closed after %lld layers is served: hit %lld", (long long)copied, (long long)n);
    CHECK(stat_of(a, 0) == 0 && stat_of(a, 1) == 0, "layered operations left leases or pins");
}

/* A client killed with a pinned prefetch and a half-copied layered store open: nothing published, nothing held. */
static void killed_with_ops_open(const char *socket_path, lmcache4j_engine e) {
    int32_t stored[PROMPT], on_disk[PROMPT];
    prompt(stored, PROMPT, 25);
    prompt(on_disk, PROMPT, 22);
    pid_t pid = fork();
    if (pid == 0) {
        caches c;
        lmcache4j_engine mine = ops_client(socket_path, &c);
        int64_t slots[PROMPT], n;
        slots_from(slots, PROMPT, 0);
        compute(&c, stored, slots, PROMPT);
        lmcache4j_layered op;
        lmcache4j_prefetch_handle p;
        int32_t finished = 0;
        int ok = !lmcache4j_store_layers(mine, NULL, stored, slots, PROMPT, 0, 0, &op, &n) &&
                 !lmcache4j_copy_layer(mine, op, 0) && !lmcache4j_prefetch(mine, NULL, on_disk, PROMPT, "req-k", &p) &&
                 !lmcache4j_prefetch_await(mine, p, 30000, &finished) && finished && stat_of(mine, 1) > 0;
        if (!ok) _exit(3);
        raise(SIGKILL);
    }
    int status = -1;
    waitpid(pid, &status, 0);
    CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL, "the client with open operations did not die as planned "
          "(status 0x%x)", status);
    int64_t leases = -1, pins = -1, n = -1;
    for (int waited = 0; waited < 100 && (leases || pins); waited++) {
        leases = stat_of(e, 0);
        pins = stat_of(e, 1);
        if (leases || pins) sleep_ms(100);
    }
    CHECK(leases == 0 && pins == 0, "after the killed client with open operations: %lld leases, %lld pins",
          (long long)leases, (long long)pins);
    EXPECT_OK(lmcache4j_lookup(e, NULL, stored, PROMPT, NULL, &n));
    CHECK(n == 0, "the killed client's half-copied layered store is served: hit %lld", (long long)n);
}

/* The server killed under open operations: prefetches finish as misses, a retrieve's layers fail, stores skip. */
static void server_gone_with_ops_open(server_process *s, lmcache4j_engine e) {
    int32_t tokens[PROMPT], other[PROMPT], state = -1, finished = -1, cancelled = -1;
    int64_t slots[PROMPT], n = -1, ready = -1, copied = -1;
    prompt(tokens, PROMPT, 23);
    prompt(other, PROMPT, 26);
    slots_from(slots, PROMPT, 200);
    lmcache4j_prefetch_handle p;
    lmcache4j_layered load, save;
    EXPECT_OK(lmcache4j_prefetch(e, NULL, tokens, PROMPT, "req-g", &p));
    EXPECT_OK(lmcache4j_retrieve_layers(e, NULL, tokens, slots, PROMPT, 0, 0, &load, &n));
    CHECK(n == PROMPT, "retrieve_layers before the kill plans %lld tokens", (long long)n);
    EXPECT_OK(lmcache4j_store_layers(e, NULL, other, slots, PROMPT, 0, 0, &save, &n));
    CHECK(server_stop(s, SIGKILL) >= 0, "the server did not die");
    EXPECT_OK(lmcache4j_prefetch_state(e, p, &state, &ready));
    EXPECT_OK(lmcache4j_prefetch_await(e, p, INT64_MAX, &finished));
    EXPECT_OK(lmcache4j_prefetch_cancel(e, p, &cancelled));
    CHECK(state == LMCACHE4J_PREFETCH_DONE && ready == 0 && finished == 1 && cancelled == 0,
          "a prefetch whose server died: state %d, ready %lld, finished %d", state, (long long)ready, finished);
    EXPECT_OK(lmcache4j_prefetch_close(e, p));
    EXPECT_STATUS(lmcache4j_copy_layer(e, load, 0), LMCACHE4J_ERR_STATE, "went away");
    EXPECT_OK(lmcache4j_close_layers(e, load, &copied));
    for (int32_t l = 0; l < LAYERS; l++) EXPECT_OK(lmcache4j_copy_layer(e, save, l));
    EXPECT_OK(lmcache4j_close_layers(e, save, &copied));
    CHECK(copied == LAYERS, "a store whose server died copied %lld layers", (long long)copied);
    EXPECT_OK(lmcache4j_prefetch(e, NULL, tokens, PROMPT, NULL, &p)); /* while gone: a finished miss */
    EXPECT_OK(lmcache4j_prefetch_state(e, p, &state, &ready));
    CHECK(state == LMCACHE4J_PREFETCH_DONE && ready == 0, "a prefetch while gone: state %d, ready %lld", state,
          (long long)ready);
    EXPECT_OK(lmcache4j_prefetch_close(e, p));
    EXPECT_OK(lmcache4j_retrieve_layers(e, NULL, tokens, slots, PROMPT, 0, 0, &load, &n));
    for (int32_t l = 0; l < LAYERS; l++) EXPECT_OK(lmcache4j_copy_layer(e, load, l));
    EXPECT_OK(lmcache4j_close_layers(e, load, &copied));
    CHECK(n == 0 && copied == LAYERS, "a layered retrieve while gone: %lld tokens, %lld layers", (long long)n,
          (long long)copied);
}

/* Bytes of KV event records one take moved, or -1 when it failed. */
static long take_events(lmcache4j_engine e, unsigned char *buf, size_t capacity) {
    size_t n = 0;
    return lmcache4j_take_kv_events(e, buf, capacity, &n) == LMCACHE4J_OK ? (long)n : -1;
}

/* Checks that buf holds one STORED record per chunk of tokens, parent chained: the count of good ones. */
static int stored_records(const unsigned char *buf, long n, const int32_t *tokens, int chunks) {
    enum { RECORD = LMCACHE4J_KV_EVENT_HEADER_BYTES + 4 * CHUNK };
    int good = 0;
    for (int i = 0; i < chunks && (long)(i + 1) * RECORD <= n; i++) {
        const unsigned char *r = buf + (size_t)i * RECORD;
        uint32_t count;
        memcpy(&count, r + 4, 4);
        int parent_ok = i == 0 ? r[1] == 0 : r[1] == 1 && !memcmp(r + 24, r - RECORD + 8, 16);
        good += r[0] == LMCACHE4J_KV_EVENT_STORED && count == CHUNK && parent_ok &&
                !memcmp(r + LMCACHE4J_KV_EVENT_HEADER_BYTES, tokens + i * CHUNK, 4 * CHUNK);
    }
    return good;
}

/* Every recording client takes every event of the node's cache, whichever client stored. */
static void kv_event_cases(lmcache4j_engine a, caches *ca, lmcache4j_engine b) {
    static unsigned char got_a[4096], got_b[4096];
    int32_t tokens[PROMPT];
    int64_t slots[PROMPT], n = -1;
    prompt(tokens, PROMPT, 27);
    slots_from(slots, PROMPT, 100);
    compute(ca, tokens, slots, PROMPT);
    CHECK(take_events(a, got_a, sizeof got_a) == 0, "events before recording");
    EXPECT_OK(lmcache4j_record_kv_events(a, 1));
    EXPECT_OK(lmcache4j_record_kv_events(b, 1));
    EXPECT_OK(lmcache4j_store(a, NULL, tokens, slots, PROMPT, 0, &n));
    EXPECT_STATUS(lmcache4j_take_kv_events(b, got_b, 10, &(size_t){0}), LMCACHE4J_ERR_INVALID_ARGUMENT, "takes");
    long na = take_events(a, got_a, sizeof got_a), nb = take_events(b, got_b, sizeof got_b);
    int chunks = PROMPT / CHUNK;
    CHECK(na == nb && na == chunks * (LMCACHE4J_KV_EVENT_HEADER_BYTES + 4 * CHUNK) && !memcmp(got_a, got_b, (size_t)na),
          "both recording clients take the store's events: %ld and %ld bytes", na, nb);
    CHECK(stored_records(got_a, na, tokens, chunks) == chunks, "the stored records are not the prompt's chunks");
    CHECK(take_events(a, got_a, sizeof got_a) == 0 && take_events(b, got_b, sizeof got_b) == 0, "events taken twice");
    EXPECT_OK(lmcache4j_record_kv_events(b, 0));
    prompt(tokens, PROMPT, 28);
    compute(ca, tokens, slots, PROMPT);
    EXPECT_OK(lmcache4j_store(b, NULL, tokens, slots, PROMPT, 0, &n));
    na = take_events(a, got_a, sizeof got_a);
    CHECK(stored_records(got_a, na, tokens, chunks) == chunks, "a store by another client is not an event: %ld bytes", na);
    CHECK(take_events(b, got_b, sizeof got_b) == 0, "a client that stopped recording still takes events");
}

/* After the server came back, a recording client's first take reports one CLEARED record, then events again. */
static void kv_events_after_restart(server_process *s, lmcache4j_engine e) {
    static unsigned char got[4096];
    CHECK(take_events(e, got, sizeof got) == 0, "events while the server is gone");
    if (server_start(s, 120)) {
        CHECK(0, "the ops server did not start again");
        return;
    }
    long n = 0;
    for (int tries = 0; tries < 50 && n == 0; tries++) { /* reconnects at most once a second */
        n = take_events(e, got, sizeof got);
        if (n == 0) sleep_ms(100);
    }
    CHECK(n == LMCACHE4J_KV_EVENT_HEADER_BYTES && got[0] == LMCACHE4J_KV_EVENT_CLEARED,
          "after the restart: %ld bytes, kind %d", n, (int)got[0]);
    CHECK(take_events(e, got, sizeof got) == 0, "more than the CLEARED record after the restart");
    EXPECT_OK(lmcache4j_record_kv_events(e, 0));
    int status = server_stop(s, SIGTERM);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "the restarted ops server's SIGTERM gave status 0x%x", status);
}

/* Its own server, on a disk tier; stopped and started again so that the first prompts lie on disk only. */
static void handle_ops(const char *dir) {
    server_process s = server_named(dir, "ops");
    FILE *f = fopen(s.config_path, "w");
    fprintf(f, "chunk_size: %d\nmax_local_cpu_size: 0.05\nlocal_disk: \"file://%s/ops-disk/\"\nmax_local_disk_size: 0.1\n",
            CHUNK, dir);
    fclose(f);
    if (server_start(&s, 120)) {
        CHECK(0, "the server of the prefetch and layer cases did not start");
        return;
    }
    caches ca, cb;
    lmcache4j_engine a = ops_client(s.socket_path, &ca);
    int32_t tokens[PROMPT];
    int64_t slots[PROMPT], n = -1;
    slots_from(slots, PROMPT, 0);
    for (int seed = 21; seed <= 22; seed++) {
        prompt(tokens, PROMPT, seed);
        compute(&ca, tokens, slots, PROMPT);
        EXPECT_OK(lmcache4j_store(a, NULL, tokens, slots, PROMPT, 0, &n));
        CHECK(n == PROMPT, "prompt %d: stored %lld", seed, (long long)n);
    }
    EXPECT_OK(lmcache4j_close(a));
    caches_free(&ca);
    int status = server_stop(&s, SIGTERM); /* the disk tier keeps what it holds */
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "the ops server's SIGTERM gave status 0x%x", status);
    if (server_start(&s, 120)) {
        CHECK(0, "the server of the prefetch and layer cases did not start again");
        return;
    }
    a = ops_client(s.socket_path, &ca);
    lmcache4j_engine b = ops_client(s.socket_path, &cb);
    prefetch_cases(a, &ca);
    layered_cases(a, &ca, b, &cb);
    kv_event_cases(a, &ca, b);
    killed_with_ops_open(s.socket_path, a);
    server_gone_with_ops_open(&s, a);
    kv_events_after_restart(&s, a);
    CHECK(!jvm_in_process(), "a JVM was loaded by prefetches or layered copies");
    EXPECT_OK(lmcache4j_close(a));
    EXPECT_OK(lmcache4j_close(b));
    caches_free(&ca);
    caches_free(&cb);
    if (check_failures) server_print_log(&s);
}

#endif
