/*
 * The C ABI in client mode against a real `lmcache4j server` (docs/server.md): engines that are
 * connections, no JVM in this process, hits shared both ways between this process and a child
 * process, a client killed by SIGKILL in the middle of a store (nothing it wrote is served, its
 * pins and leases come back), and a server killed mid-run (misses and skipped stores, no error)
 * then restarted on the same disk directory (hits again, from disk, after the reconnect).
 *
 *   test_client                     the test (make test; make asan-test)
 *   test_client --child SOCKET      the second client process, run by the test
 */
#include <ftw.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "client_fixture.h"
#include "raw_client.h"
#include "server_process.h"
#include "client_faults.h"
#include "client_ops.h"

/* ------------------------------------------------------------------ the second process */

/* Retrieves prompt 1 (stored by the parent) into its own caches, checks it, stores prompt 3. */
static int child_main(const char *socket_path) {
    setenv("LMCACHE4J_SERVER", "", 1);
    lmcache4j_engine e = open_client(socket_path);
    caches c;
    caches_init(&c);
    EXPECT_OK(lmcache4j_register_kv_caches(e, c.addresses, LAYERS, LMCACHE4J_DEVICE_HOST));
    int32_t tokens[PROMPT];
    int64_t slots[PROMPT], hit = -1, n = -1;
    prompt(tokens, PROMPT, 1);
    slots_from(slots, PROMPT, 500); /* other slots than the parent's: the bytes travel, not the places */
    EXPECT_OK(lmcache4j_lookup(e, NULL, tokens, PROMPT, NULL, &hit));
    EXPECT_OK(lmcache4j_retrieve(e, NULL, tokens, slots, PROMPT, 0, &n));
    CHECK(hit == PROMPT && n == PROMPT, "child: hit %lld, loaded %lld of prompt 1", (long long)hit, (long long)n);
    CHECK(mismatched(&c, tokens, slots, PROMPT) == 0, "child: prompt 1's bytes differ");
    prompt(tokens, PROMPT, 3);
    compute(&c, tokens, slots, PROMPT);
    EXPECT_OK(lmcache4j_store(e, NULL, tokens, slots, PROMPT, 0, &n));
    CHECK(n == PROMPT, "child: stored %lld of prompt 3", (long long)n);
    CHECK(!jvm_in_process(), "child: a JVM was loaded in client mode");
    EXPECT_OK(lmcache4j_close(e));
    caches_free(&c);
    return check_failures ? 1 : 0;
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
    (void)st, (void)flag, (void)ftw;
    return remove(path);
}

/* ------------------------------------------------------------------ the cases */

/* Wrong input is refused as the embedded engine refuses it, before anything reaches the server. */
static void bad_input(lmcache4j_engine e, caches *c) {
    int32_t tokens[PROMPT];
    int64_t slots[PROMPT], n = -1;
    prompt(tokens, PROMPT, 9);
    slots_from(slots, PROMPT, 0);
    EXPECT_STATUS(lmcache4j_store(e, NULL, tokens, slots, PROMPT, 0, &n), LMCACHE4J_ERR_STATE, "no KV caches registered");
    setenv("LMCACHE4J_CUDA_DRIVER", "/nonexistent/libcuda.so.1", 1); /* device caches need a driver (test_ipc_client) */
    EXPECT_STATUS(lmcache4j_register_kv_caches(e, c->addresses, LAYERS, 0), LMCACHE4J_ERR_UNSUPPORTED,
                  "cannot load the CUDA driver /nonexistent/libcuda.so.1");
    unsetenv("LMCACHE4J_CUDA_DRIVER");
    EXPECT_STATUS(lmcache4j_register_kv_caches(e, c->addresses, LAYERS - 1, LMCACHE4J_DEVICE_HOST),
                  LMCACHE4J_ERR_INVALID_ARGUMENT, "expected 2 layer caches, got 1");
    EXPECT_OK(lmcache4j_register_kv_caches(e, c->addresses, LAYERS, LMCACHE4J_DEVICE_HOST));
    slots[5] = SLOTS;
    EXPECT_STATUS(lmcache4j_store(e, NULL, tokens, slots, PROMPT, 0, &n), LMCACHE4J_ERR_INVALID_ARGUMENT,
                  "slot_mapping[5] = 1024 is outside the registered caches");
    slots[5] = 5;
    EXPECT_STATUS(lmcache4j_retrieve(e, NULL, tokens, slots, PROMPT, 3, &n), LMCACHE4J_ERR_INVALID_ARGUMENT,
                  "not a multiple of chunk_size 16");
    EXPECT_STATUS(lmcache4j_store_on_stream(e, NULL, tokens, slots, PROMPT, 0, 7, &n), LMCACHE4J_ERR_INVALID_ARGUMENT,
                  "host memory");
    EXPECT_STATUS(lmcache4j_lookup(e, NULL, tokens, PROMPT, "", &n), LMCACHE4J_ERR_INVALID_ARGUMENT, "request id");
    EXPECT_STATUS(lmcache4j_lookup(e, NULL, NULL, 4, NULL, &n), LMCACHE4J_ERR_INVALID_ARGUMENT, "tokens is NULL");
    CHECK(n == -1, "a refused call wrote its output");
    EXPECT_STATUS(lmcache4j_serve_lookups(e, "/tmp/l4j-nowhere.sock"), LMCACHE4J_ERR_UNSUPPORTED, "lmcache4j_serve_lookups");
    EXPECT_OK(lmcache4j_lookup(e, NULL, tokens, PROMPT, NULL, &n));
    CHECK(n == 0, "a refused store stored something: hit %lld", (long long)n);
}

/* Stores prompt `seed` from one engine and retrieves it through another (other slots, other caches). */
static void share(lmcache4j_engine from, caches *cf, lmcache4j_engine to, caches *ct, int seed) {
    int32_t tokens[PROMPT];
    int64_t put[PROMPT], get[PROMPT], n = -1, hit = -1, pool = -1;
    prompt(tokens, PROMPT, seed);
    slots_from(put, PROMPT, 16 * seed);
    slots_from(get, PROMPT, 700);
    compute(cf, tokens, put, PROMPT);
    EXPECT_OK(lmcache4j_store(from, NULL, tokens, put, PROMPT, 0, &n));
    CHECK(n == PROMPT, "prompt %d: stored %lld", seed, (long long)n);
    EXPECT_OK(lmcache4j_lookup_tiers(to, NULL, tokens, PROMPT, "req-share", &hit, &pool));
    CHECK(hit == PROMPT && pool == PROMPT, "prompt %d: hit %lld, in the pool %lld", seed, (long long)hit, (long long)pool);
    memset(ct->layer[0], 0, 2 * (size_t)SLOTS * ROW);
    EXPECT_OK(lmcache4j_retrieve(to, NULL, tokens, get, PROMPT, 0, &n));
    CHECK(n == PROMPT, "prompt %d: loaded %lld", seed, (long long)n);
    CHECK(mismatched(ct, tokens, get, PROMPT) == 0, "prompt %d: retrieved bytes differ from the stored", seed);
    EXPECT_OK(lmcache4j_unpin(to, "req-share", &n));
    CHECK(n == PROMPT / CHUNK, "prompt %d: unpinned %lld chunks", seed, (long long)n);
}

static void child_process(const char *self, const char *socket_path, lmcache4j_engine e, caches *c) {
    pid_t pid = fork();
    if (pid == 0) {
        execl(self, self, "--child", socket_path, (char *)NULL);
        _exit(127);
    }
    int status = -1;
    waitpid(pid, &status, 0);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "the child client failed (status 0x%x)", status);
    int32_t tokens[PROMPT];
    int64_t slots[PROMPT], n = -1;
    prompt(tokens, PROMPT, 3);
    slots_from(slots, PROMPT, 800);
    EXPECT_OK(lmcache4j_retrieve(e, NULL, tokens, slots, PROMPT, 0, &n));
    CHECK(n == PROMPT && mismatched(c, tokens, slots, PROMPT) == 0, "the child's prompt 3: loaded %lld", (long long)n);
}

typedef struct worker { lmcache4j_engine e; caches *c; int seed; long bad; } worker;

static void *work(void *arg) {
    worker *w = arg;
    int32_t tokens[PROMPT];
    int64_t slots[PROMPT], n;
    prompt(tokens, PROMPT, w->seed);
    slots_from(slots, PROMPT, 64 * w->seed);
    compute(w->c, tokens, slots, PROMPT);
    for (int round = 0; round < 20; round++) {
        w->bad += lmcache4j_store(w->e, NULL, tokens, slots, PROMPT, 0, &n) != LMCACHE4J_OK;
        w->bad += lmcache4j_lookup(w->e, NULL, tokens, PROMPT, NULL, &n) != LMCACHE4J_OK || n != PROMPT;
        w->bad += lmcache4j_retrieve(w->e, NULL, tokens, slots, PROMPT, 0, &n) != LMCACHE4J_OK || n != PROMPT;
    }
    w->bad += mismatched(w->c, tokens, slots, PROMPT);
    return NULL;
}

/* Four threads on one connection: requests are serialised, none is lost or mixed up. */
static void threads(lmcache4j_engine e, caches *c) {
    pthread_t t[4];
    worker w[4];
    for (int i = 0; i < 4; i++) {
        w[i] = (worker){e, c, 11 + i, 0};
        pthread_create(&t[i], NULL, work, &w[i]);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(t[i], NULL);
        CHECK(w[i].bad == 0, "thread %d: %ld failures or wrong bytes", i, w[i].bad);
    }
}

/* Slots of tokens in shuffled blocks (runs of BLOCK adjacent slots, then a jump); token `none`'s -1 if >= 0. */
static void shuffled_slots(int64_t *slots, int n, unsigned seed, int none) {
    int order[BLOCKS];
    for (int b = 0; b < BLOCKS; b++) order[b] = b;
    for (int b = BLOCKS - 1; b > 0; b--) {
        seed = seed * 1103515245u + 12345u;
        int k = (int)(seed >> 16) % (b + 1), t = order[b];
        order[b] = order[k], order[k] = t;
    }
    for (int t = 0; t < n; t++) slots[t] = (int64_t)order[t / BLOCK] * BLOCK + t % BLOCK;
    if (none >= 0) slots[none] = -1;
}

/*
 * The copies' runs of adjacent rows on another paged format: a server of blocks_first caches
 * (rows adjacent within a block only), slots in shuffled blocks, a retrieve with a -1 slot (its
 * row not written; a store leaves a chunk with one out, as the embedded engine does).
 */
static void blocks_first(const char *dir) {
    server_process s = server_named(dir, "bf");
    FILE *f = fopen(s.config_path, "w");
    fprintf(f, "chunk_size: %d\nmax_local_cpu_size: 0.05\n", CHUNK);
    fclose(f);
    if (server_start(&s, 120)) {
        CHECK(0, "the blocks_first server did not start");
        return;
    }
    LAYOUT.kv_format = "blocks_first";
    lmcache4j_engine a = open_client(s.socket_path), b = open_client(s.socket_path);
    caches ca, cb;
    caches_init(&ca);
    caches_init(&cb);
    EXPECT_OK(lmcache4j_register_kv_caches(a, ca.addresses, LAYERS, LMCACHE4J_DEVICE_HOST));
    EXPECT_OK(lmcache4j_register_kv_caches(b, cb.addresses, LAYERS, LMCACHE4J_DEVICE_HOST));
    enum { N = 3 * BLOCK + 5 }; /* three chunks and a partial one */
    int32_t tokens[N];
    int64_t put[N], get[N], n = -1;
    prompt(tokens, N, 6);
    shuffled_slots(put, N, 1, -1);
    shuffled_slots(get, N, 2, 37);
    compute(&ca, tokens, put, N);
    EXPECT_OK(lmcache4j_store(a, NULL, tokens, put, N, 0, &n));
    CHECK(n == N, "blocks_first: stored %lld of %d", (long long)n, N);
    EXPECT_OK(lmcache4j_retrieve(b, NULL, tokens, get, N, 0, &n));
    CHECK(n == N && mismatched(&cb, tokens, get, N) == 0, "blocks_first: loaded %lld, or bytes differ", (long long)n);
    long written = 0;
    for (int64_t slot = 0; slot < SLOTS; slot++) {
        int used = 0;
        for (int t = 0; t < N; t++) used |= get[t] == slot;
        if (!used) for (int i = 0; i < ROW; i++) written += row(&cb, 0, 0, slot)[i] != 0;
    }
    CHECK(written == 0, "blocks_first: %ld bytes written outside the retrieved slots", written);
    EXPECT_OK(lmcache4j_close(a));
    EXPECT_OK(lmcache4j_close(b));
    LAYOUT.kv_format = "flash_attn";
    caches_free(&ca);
    caches_free(&cb);
    int status = server_stop(&s, SIGTERM);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "blocks_first: SIGTERM gave status 0x%x", status);
}

static void selection_errors(const char *dir) {
    lmcache4j_engine e = 0;
    setenv("LMCACHE4J_SERVER", "tcp://localhost:1", 1);
    EXPECT_STATUS(lmcache4j_open(NULL, &LAYOUT, NULL, &e), LMCACHE4J_ERR_INVALID_ARGUMENT, "unix:///absolute/path");
    char missing[300];
    snprintf(missing, sizeof missing, "unix://%s/nobody.sock", dir);
    setenv("LMCACHE4J_SERVER", missing, 1);
    EXPECT_STATUS(lmcache4j_open(NULL, &LAYOUT, NULL, &e), LMCACHE4J_ERR_STATE, "cannot connect");
    lmcache4j_layout bad = LAYOUT;
    bad.dtype = "int4";
    EXPECT_STATUS(lmcache4j_open(NULL, &bad, NULL, &e), LMCACHE4J_ERR_INVALID_ARGUMENT, "unsupported KV dtype 'int4'");
    CHECK(e == 0, "a refused open gave a handle");
    unsetenv("LMCACHE4J_SERVER");
}

static int run_cases(const char *self) {
    const char *tmp = getenv("TMPDIR");
    char dir[80]; /* the socket's path must fit sun_path */
    if (snprintf(dir, sizeof dir, "%s/l4jc.XXXXXX", tmp && *tmp ? tmp : "/tmp") >= (int)sizeof dir) tmp = "/tmp";
    snprintf(dir, sizeof dir, "%s/l4jc.XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(dir)) return perror("mkdtemp"), 1;
    server_process s = {.pid = -1};
    snprintf(s.socket_path, sizeof s.socket_path, "%s/server.sock", dir);
    snprintf(s.config_path, sizeof s.config_path, "%s/lmcache.yaml", dir);
    snprintf(s.log_path, sizeof s.log_path, "%s/server.log", dir);
    FILE *f = fopen(s.config_path, "w");
    fprintf(f, "chunk_size: %d\nmax_local_cpu_size: 0.05\nlocal_disk: \"file://%s/disk/\"\nmax_local_disk_size: 0.1\n"
            "extra_config: {disk_write_through: true}\n", CHUNK, dir); /* on disk at once: the server is killed later */
    fclose(f);

    selection_errors(dir);
    if (server_start(&s, 120)) return 1;
    char address[300];
    snprintf(address, sizeof address, "unix://%s", s.socket_path);
    setenv("LMCACHE4J_SERVER", address, 1);
    lmcache4j_engine a = 0, b = 0;
    EXPECT_OK(lmcache4j_open(NULL, &LAYOUT, NULL, &a));
    unsetenv("LMCACHE4J_SERVER");
    b = open_client(s.socket_path);
    caches ca, cb;
    caches_init(&ca);
    caches_init(&cb);
    bad_input(a, &ca);
    EXPECT_OK(lmcache4j_register_kv_caches(b, cb.addresses, LAYERS, LMCACHE4J_DEVICE_HOST));
    share(a, &ca, b, &cb, 1);
    share(b, &cb, a, &ca, 2);
    other_uid(&s);
    child_process(self, s.socket_path, a, &ca);
    threads(a, &ca);
    killed_client(s.socket_path, a, &ca);
    stopped_server(&s);
    char config[4096];
    size_t length = 0;
    EXPECT_OK(lmcache4j_config_json(b, config, sizeof config, &length));
    CHECK(length > 0 && strstr(config, "\"chunk_size\": 16"), "config_json through the server: %s", config);
    killed_server(&s, a, &ca);
    CHECK(!jvm_in_process(), "a JVM was loaded in client mode");

    EXPECT_OK(lmcache4j_close(b));
    EXPECT_STATUS(lmcache4j_close(b), LMCACHE4J_ERR_CLOSED, "is closed");
    EXPECT_STATUS(lmcache4j_lookup(b, NULL, NULL, 0, NULL, &(int64_t){0}), LMCACHE4J_ERR_CLOSED, "is closed");
    EXPECT_STATUS(lmcache4j_close(b + 1000), LMCACHE4J_ERR_INVALID_ARGUMENT, "is not an engine handle");
    CHECK(stat_of(a, 0) == 0 && stat_of(a, 1) == 0, "leases or pins left at the end");
    EXPECT_OK(lmcache4j_close(a));
    int status = server_stop(&s, SIGTERM);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "SIGTERM: the server exited with status 0x%x", status);
    CHECK(access(s.socket_path, F_OK) != 0, "the server left its socket behind");
    caches_free(&ca);
    caches_free(&cb);
    blocks_first(dir);
    handle_ops(dir);
    if (check_failures) server_print_log(&s);
    else nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS); /* kept for a look when something failed */
    printf("test_client: %d checks, %d failed\n", check_count, check_failures);
    return check_failures ? 1 : 0;
}

int main(int argc, char **argv) {
    if (argc == 3 && !strcmp(argv[1], "--child")) return child_main(argv[2]);
    return run_cases(argv[0]);
}
