/*
 * Device caches of client processes over CUDA IPC (docs/server.md), on the CPU-run CUDA driver
 * (a test instrument: docs/cuda-emulator.md), against a real `lmcache4j server`: the server opens
 * each client's caches from their IPC handles and copies itself. Covered: a process stores from
 * its device caches (both layers in one allocation, at offsets) and another process, registering
 * with LMCACHE4J_DEVICE_AUTO, retrieves into its own device caches byte for byte, and the other way
 * round; host memory claimed as device memory, and caches too short for the layout, refused by
 * the client; handles the server cannot open (not a handle, a freed allocation's) answered with an
 * ERROR naming the layer and the driver's error; a client killed by SIGKILL in the middle of its
 * store (the server's copies slowed by the driver's stream delay) leaves no lease and no pin, and
 * the prompt is then either a miss or served whole.
 *
 *   test_ipc_client                        the test (make device-test)
 *   test_ipc_client --child MODE SOCKET    a second client process: "retrieve" or "die"
 */
#include <dlfcn.h>
#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "client_fixture.h"
#include "raw_client.h"
#include "server_process.h"

#define LAYER_BYTES ((size_t)2 * SLOTS * ROW)
#define OFFSET 4096 /* layer 0 starts this far into the allocation */

static struct {
    int (*init)(unsigned);
    int (*retain)(void **, int);
    int (*set_current)(void *);
    int (*release)(int);
    int (*alloc)(uint64_t *, size_t);
    int (*free)(uint64_t);
    int (*htod)(uint64_t, const void *, size_t);
    int (*dtoh)(void *, uint64_t, size_t);
    int (*ipc)(void *, uint64_t);
} cu;

static void load_driver(void) {
    const char *path = getenv("LMCACHE4J_CUDA_DRIVER");
    void *lib = path ? dlopen(path, RTLD_NOW | RTLD_LOCAL) : NULL;
    if (!lib) {
        fprintf(stderr, "test_ipc_client: set LMCACHE4J_CUDA_DRIVER to the CPU-run driver (make device-test)\n");
        exit(2);
    }
    const char *names[] = {"cuInit", "cuDevicePrimaryCtxRetain", "cuCtxSetCurrent", "cuDevicePrimaryCtxRelease_v2",
                           "cuMemAlloc_v2", "cuMemFree_v2", "cuMemcpyHtoD_v2", "cuMemcpyDtoH_v2", "cuIpcGetMemHandle"};
    void **slots = (void **)&cu;
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
        void *f = dlsym(lib, names[i]);
        if (!f) exit(2);
        memcpy(&slots[i], &f, sizeof f);
    }
    void *ctx = NULL;
    CHECK(!cu.init(0) && !cu.retain(&ctx, 0) && !cu.set_current(ctx), "device 0's primary context");
}

/* A process's device caches: one allocation holding both layers from OFFSET on, and host copies of them. */
typedef struct device_caches {
    uint64_t allocation;
    uint64_t addresses[LAYERS];
    caches host;
} device_caches;

static void device_init(device_caches *d) {
    caches_init(&d->host);
    CHECK(!cu.alloc(&d->allocation, OFFSET + LAYERS * LAYER_BYTES), "cuMemAlloc");
    for (int l = 0; l < LAYERS; l++) d->addresses[l] = d->allocation + OFFSET + l * LAYER_BYTES;
}

static void upload(device_caches *d) {
    for (int l = 0; l < LAYERS; l++) CHECK(!cu.htod(d->addresses[l], d->host.layer[l], LAYER_BYTES), "upload");
}

static void download(device_caches *d) {
    for (int l = 0; l < LAYERS; l++) CHECK(!cu.dtoh(d->host.layer[l], d->addresses[l], LAYER_BYTES), "download");
}

static void device_free(device_caches *d) {
    CHECK(!cu.free(d->allocation), "cuMemFree");
    caches_free(&d->host);
}

/* Computes prompt `seed` at slots from `first`, stores it from the device caches; the tokens stored. */
static int64_t store_prompt(lmcache4j_engine e, device_caches *d, int seed, int64_t first) {
    int32_t tokens[PROMPT];
    int64_t slots[PROMPT], n = -1;
    prompt(tokens, PROMPT, seed);
    slots_from(slots, PROMPT, first);
    compute(&d->host, tokens, slots, PROMPT);
    upload(d);
    EXPECT_OK(lmcache4j_store(e, NULL, tokens, slots, PROMPT, 0, &n));
    return n;
}

/* Retrieves prompt `seed` into slots from `first`; the tokens loaded, and the bytes that differ in *bad. */
static int64_t retrieve_prompt(lmcache4j_engine e, device_caches *d, int seed, int64_t first, long *bad) {
    int32_t tokens[PROMPT];
    int64_t slots[PROMPT], n = -1;
    prompt(tokens, PROMPT, seed);
    slots_from(slots, PROMPT, first);
    EXPECT_OK(lmcache4j_retrieve_on_stream(e, NULL, tokens, slots, PROMPT, 0, 0, &n));
    download(d);
    *bad = mismatched(&d->host, tokens, slots, PROMPT);
    return n;
}

/* ------------------------------------------------------------------ the second process */

static int child_main(const char *mode, const char *socket_path) {
    load_driver();
    lmcache4j_engine e = open_client(socket_path);
    device_caches d;
    device_init(&d);
    EXPECT_OK(lmcache4j_register_kv_caches(e, d.addresses, LAYERS, LMCACHE4J_DEVICE_AUTO));
    if (!strcmp(mode, "retrieve")) {
        long bad = -1;
        int64_t n = retrieve_prompt(e, &d, 1, 500, &bad);
        CHECK(n == PROMPT && bad == 0, "child: loaded %lld tokens of prompt 1, %ld bytes differ", (long long)n, bad);
        CHECK(store_prompt(e, &d, 2, 700) == PROMPT, "child: prompt 2 not stored whole");
    } else { /* die: pin prompt 4, say so on stdout, store it; the parent kills this process meanwhile */
        int32_t tokens[PROMPT];
        int64_t hit = -1;
        prompt(tokens, PROMPT, 4);
        EXPECT_OK(lmcache4j_lookup(e, NULL, tokens, PROMPT, "die-req", &hit));
        printf("storing\n");
        fflush(stdout);
        store_prompt(e, &d, 4, 0);
    }
    CHECK(!jvm_in_process(), "child: a JVM was loaded in client mode");
    EXPECT_OK(lmcache4j_close(e));
    device_free(&d);
    return check_failures ? 1 : 0;
}

static int run_child(const char *self, const char *mode, const char *socket_path) {
    pid_t pid = fork();
    if (pid == 0) {
        execl(self, self, "--child", mode, socket_path, (char *)NULL);
        _exit(127);
    }
    int status = -1;
    waitpid(pid, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* ------------------------------------------------------------------ the cases */

static void refused_by_the_client(lmcache4j_engine e, device_caches *d) {
    caches host;
    caches_init(&host);
    EXPECT_STATUS(lmcache4j_register_kv_caches(e, host.addresses, LAYERS, 0), LMCACHE4J_ERR_INVALID_ARGUMENT,
                  "is not device memory");
    caches_free(&host);
    uint64_t short_caches[LAYERS] = {d->addresses[1], d->addresses[1]}; /* layer 0 ends where the allocation does */
    short_caches[1] += 64;
    EXPECT_STATUS(lmcache4j_register_kv_caches(e, short_caches, LAYERS, 0), LMCACHE4J_ERR_INVALID_ARGUMENT,
                  "lies in a");
}

/* The server's answer to a REGISTER_DEVICE_CACHES with these handle bytes for every layer. */
static void refused_by_the_server(const char *socket_path, const unsigned char *handle, const char *expected) {
    int fd = raw_hello(socket_path, &LAYOUT);
    lmc_out o = {0};
    lmc_out_u32(&o, 0);
    lmc_out_u32(&o, 0);
    lmc_out_u32(&o, LAYERS);
    for (int l = 0; l < LAYERS; l++) {
        lmc_out_bytes(&o, handle, LMCACHE4J_WIRE_IPC_HANDLE_BYTES);
        lmc_out_u64(&o, 0);
        lmc_out_u64(&o, LAYER_BYTES);
    }
    lmc_msg m = raw_say(fd, LMCACHE4J_WIRE_REGISTER_DEVICE_CACHES, &o);
    lmc_in in = {m.body, m.length, 0, 0};
    int32_t status = m.type == LMCACHE4J_WIRE_ERROR ? (int32_t)lmc_in_u32(&in) : 0;
    uint32_t n = 0;
    const char *text = m.type == LMCACHE4J_WIRE_ERROR ? lmc_in_text(&in, &n) : "";
    CHECK(status == LMCACHE4J_ERR_INVALID_ARGUMENT && strstr(text, "layer 0") && strstr(text, expected),
          "a bad handle: message type %u, status %d, '%.*s' (expected '%s')", m.type, (int)status, (int)n, text, expected);
    lmc_msg_free(&m);
    close(fd);
}

static void bad_handles(const char *socket_path) {
    unsigned char handle[LMCACHE4J_WIRE_IPC_HANDLE_BYTES];
    memset(handle, 0x5a, sizeof handle);
    refused_by_the_server(socket_path, handle, "CUDA_ERROR_INVALID_VALUE");
    uint64_t gone = 0;
    CHECK(!cu.alloc(&gone, LAYER_BYTES) && !cu.ipc(handle, gone) && !cu.free(gone), "a freed allocation's handle");
    refused_by_the_server(socket_path, handle, "CUDA_ERROR_INVALID_HANDLE");
}

/* A client killed in the middle of its store: no lease or pin left, prompt 4 a miss or whole. */
static void killed_client(const char *self, const char *socket_path, lmcache4j_engine e, device_caches *d) {
    int out[2];
    CHECK(pipe(out) == 0, "pipe");
    pid_t pid = fork();
    if (pid == 0) {
        dup2(out[1], 1);
        execl(self, self, "--child", "die", socket_path, (char *)NULL);
        _exit(127);
    }
    close(out[1]);
    char line[16] = {0};
    CHECK(read(out[0], line, sizeof line - 1) > 0 && !strncmp(line, "storing", 7), "the child did not start its store");
    sleep_ms(50); /* inside the server's copies: each waits LMCACHE4J_CUDA_EMULATOR_DELAY_US */
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    close(out[0]);
    int64_t leases = -1, pins = -1;
    for (int i = 0; i < 100 && (leases || pins); i++) { /* the server sees the drop, its copies land, it lets go */
        sleep_ms(100);
        leases = stat_of(e, 0);
        pins = stat_of(e, 1);
    }
    CHECK(leases == 0 && pins == 0, "after the killed client: %lld leases, %lld pins", (long long)leases, (long long)pins);
    int32_t tokens[PROMPT];
    int64_t hit = -1;
    long bad = -1;
    prompt(tokens, PROMPT, 4);
    EXPECT_OK(lmcache4j_lookup(e, NULL, tokens, PROMPT, NULL, &hit));
    CHECK(hit == 0 || hit == PROMPT, "prompt 4 after its client died: %lld of %d tokens", (long long)hit, PROMPT);
    if (hit == PROMPT) {
        CHECK(retrieve_prompt(e, d, 4, 900, &bad) == PROMPT && bad == 0, "prompt 4 served with %ld bytes wrong", bad);
    }
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
    (void)st, (void)flag, (void)ftw;
    return remove(path);
}

static int run_cases(const char *self) {
    load_driver();
    const char *tmp = getenv("TMPDIR");
    char dir[80];
    snprintf(dir, sizeof dir, "%s/l4ji.XXXXXX", tmp && *tmp && strlen(tmp) < 50 ? tmp : "/tmp");
    if (!mkdtemp(dir)) return perror("mkdtemp"), 1;
    server_process s = {.pid = -1};
    server_paths(&s, dir, "ipc");
    FILE *f = fopen(s.config_path, "w");
    fprintf(f, "chunk_size: %d\nmax_local_cpu_size: 0.05\n", CHUNK);
    fclose(f);
    setenv("LMCACHE4J_CUDA_EMULATOR_DELAY_US", "200000", 1); /* the server's: each copy takes 0.2 s */
    int started = server_start(&s, 120);
    unsetenv("LMCACHE4J_CUDA_EMULATOR_DELAY_US");
    if (started) return 1;
    lmcache4j_engine e = open_client(s.socket_path);
    device_caches d;
    device_init(&d);
    refused_by_the_client(e, &d);
    EXPECT_OK(lmcache4j_register_kv_caches(e, d.addresses, LAYERS, 0));
    CHECK(store_prompt(e, &d, 1, 0) == PROMPT, "prompt 1 not stored whole");
    CHECK(run_child(self, "retrieve", s.socket_path) == 0, "the second process failed its checks");
    long bad = -1;
    int64_t n = retrieve_prompt(e, &d, 2, 300, &bad);
    CHECK(n == PROMPT && bad == 0, "prompt 2 from the other process: %lld tokens, %ld bytes differ", (long long)n, bad);
    bad_handles(s.socket_path);
    killed_client(self, s.socket_path, e, &d);
    CHECK(!jvm_in_process(), "a JVM was loaded in client mode");
    CHECK(stat_of(e, 0) == 0 && stat_of(e, 1) == 0, "leases or pins left at the end");
    EXPECT_OK(lmcache4j_close(e));
    device_free(&d);
    int status = server_stop(&s, SIGTERM);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "SIGTERM: the server exited with status 0x%x", status);
    if (check_failures) server_print_log(&s);
    else nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    printf("test_ipc_client: %d checks, %d failed\n", check_count, check_failures);
    return check_failures ? 1 : 0;
}

int main(int argc, char **argv) {
    if (argc == 4 && !strcmp(argv[1], "--child")) return child_main(argv[2], argv[3]);
    return run_cases(argv[0]);
}
