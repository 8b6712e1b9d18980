/*
 * The fault cases of test_client.c: a client killed mid-store, a server that stops answering, a
 * server killed and restarted on its disk, a client of another uid. Included once, after the
 * fixture (client_fixture.h, server_process.h, raw_client.h).
 */
#ifndef LMCACHE4J_CLIENT_FAULTS_H
#define LMCACHE4J_CLIENT_FAULTS_H

#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>

/* A client killed by SIGKILL mid-store, after writing half of its pages: nothing served, nothing held. */
static void killed_client(const char *socket_path, lmcache4j_engine e, caches *c) {
    int32_t pinned[PROMPT], tokens[PROMPT];
    int64_t slots[PROMPT], n = -1;
    prompt(pinned, PROMPT, 1);
    prompt(tokens, PROMPT, 4);
    slots_from(slots, PROMPT, 300);
    pid_t pid = fork();
    if (pid == 0) raw_client_die_mid_store(socket_path, &LAYOUT, pinned, PROMPT, tokens, slots, PROMPT);
    int status = -1;
    waitpid(pid, &status, 0);
    CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL, "the raw client did not die at its COPY (status 0x%x)",
          status);
    int64_t leases = -1, pins = -1;
    for (int waited = 0; waited < 100 && (leases || pins); waited++) { /* the server sees the drop at once, or soon */
        leases = stat_of(e, 0);
        pins = stat_of(e, 1);
        if (leases || pins) sleep_ms(100);
    }
    CHECK(leases == 0 && pins == 0, "after the killed client: %lld leases, %lld pins", (long long)leases,
          (long long)pins);
    EXPECT_OK(lmcache4j_lookup(e, NULL, tokens, PROMPT, NULL, &n));
    CHECK(n == 0, "the killed client's half-written store is served: hit %lld", (long long)n);
    compute(c, tokens, slots, PROMPT);
    EXPECT_OK(lmcache4j_store(e, NULL, tokens, slots, PROMPT, 0, &n));
    CHECK(n == PROMPT, "the prompt after the killed client: stored %lld", (long long)n);
    int64_t get[PROMPT];
    slots_from(get, PROMPT, 900);
    EXPECT_OK(lmcache4j_retrieve(e, NULL, tokens, get, PROMPT, 0, &n));
    CHECK(n == PROMPT && mismatched(c, tokens, get, PROMPT) == 0, "after the killed client: loaded %lld", (long long)n);
}

/*
 * A server that stops answering (SIGSTOP) is gone once LMCACHE4J_SERVER_TIMEOUT_MS has passed: the
 * call answers a miss instead of waiting for ever; once the server runs again, a later call
 * reconnects and hits.
 */
static void stopped_server(const server_process *s) {
    setenv("LMCACHE4J_SERVER_TIMEOUT_MS", "300", 1);
    lmcache4j_engine e = open_client(s->socket_path);
    unsetenv("LMCACHE4J_SERVER_TIMEOUT_MS");
    int32_t tokens[PROMPT];
    int64_t n = -1;
    prompt(tokens, PROMPT, 1);
    kill(s->pid, SIGSTOP);
    server_wait_stopped(s->pid);
    int64_t t0 = now_ms();
    EXPECT_OK(lmcache4j_lookup(e, NULL, tokens, PROMPT, NULL, &n));
    int64_t waited = now_ms() - t0;
    kill(s->pid, SIGCONT);
    CHECK(n == 0 && waited >= 250 && waited < 5000, "a stopped server: hit %lld after %lld ms", (long long)n,
          (long long)waited);
    n = 0;
    for (int tries = 0; tries < 30 && n != PROMPT; tries++) {
        sleep_ms(200);
        EXPECT_OK(lmcache4j_lookup(e, NULL, tokens, PROMPT, NULL, &n));
    }
    CHECK(n == PROMPT, "after SIGCONT the client did not hit again: %lld", (long long)n);
    EXPECT_OK(lmcache4j_close(e));
}

/* The server killed: misses and skipped stores, status OK; restarted: hits from disk again. */
static void killed_server(server_process *s, lmcache4j_engine e, caches *c) {
    int32_t tokens[PROMPT];
    int64_t slots[PROMPT], n = -1;
    prompt(tokens, PROMPT, 2);
    slots_from(slots, PROMPT, 100);
    sleep_ms(1500); /* the disk tier writes stored chunks through in the background */
    CHECK(server_stop(s, SIGKILL) >= 0, "the server did not die");
    EXPECT_OK(lmcache4j_lookup(e, NULL, tokens, PROMPT, "req-gone", &n));
    CHECK(n == 0, "lookup while the server is gone: %lld", (long long)n);
    EXPECT_OK(lmcache4j_store(e, NULL, tokens, slots, PROMPT, 0, &n));
    CHECK(n == 0, "store while the server is gone: %lld", (long long)n);
    EXPECT_OK(lmcache4j_retrieve(e, NULL, tokens, slots, PROMPT, 0, &n));
    CHECK(n == 0, "retrieve while the server is gone: %lld", (long long)n);
    EXPECT_OK(lmcache4j_unpin(e, "req-gone", &n));
    EXPECT_OK(lmcache4j_count_prompt(e, PROMPT, 0));
    lmcache4j_engine_stats st = {.struct_size = sizeof st};
    EXPECT_STATUS(lmcache4j_stats(e, &st), LMCACHE4J_ERR_STATE, "not reachable");
    if (server_start(s, 120)) {
        CHECK(0, "the server did not restart");
        return;
    }
    n = 0;
    for (int waited = 0; waited < 50 && n != PROMPT; waited++) { /* reconnects at most once a second */
        EXPECT_OK(lmcache4j_lookup(e, NULL, tokens, PROMPT, NULL, &n));
        if (n != PROMPT) sleep_ms(200);
    }
    CHECK(n == PROMPT, "after the restart, prompt 2 is not a hit from disk: %lld", (long long)n);
    memset(c->layer[1], 0, 2 * (size_t)SLOTS * ROW);
    EXPECT_OK(lmcache4j_retrieve(e, NULL, tokens, slots, PROMPT, 0, &n));
    CHECK(n == PROMPT && mismatched(c, tokens, slots, PROMPT) == 0, "after the restart: loaded %lld", (long long)n);
}

/*
 * A client of another uid is refused by the server's SO_PEERCRED check. Only root can switch uid
 * here. The socket's folders may be private (./test.sh's TMPDIR is 0700), so the child reaches the
 * socket through a hard link in a folder of its own under /tmp, with the socket opened to others
 * for the moment of the test: what refuses it is then the server's own check. Where no link can
 * be made (another file system), the private folders keep it out, which is a refusal as well.
 */
static void other_uid(const server_process *s) {
    if (geteuid() != 0) {
        printf("test_client: NOTE: not root, so the refusal of another uid is not tested here\n");
        return;
    }
    char open_dir[] = "/tmp/l4ju.XXXXXX", link_path[64];
    int linked = mkdtemp(open_dir) && chmod(open_dir, 0711) == 0 &&
                 snprintf(link_path, sizeof link_path, "%s/s.sock", open_dir) > 0 && link(s->socket_path, link_path) == 0;
    if (!linked) printf("test_client: NOTE: no hard link to the socket under /tmp: uid 65534 is kept out by the folders\n");
    chmod(s->socket_path, 0666);
    pid_t pid = fork();
    if (pid == 0) {
        if (setgid(65534) || setuid(65534)) _exit(2);
        char address[300];
        snprintf(address, sizeof address, "unix://%s", linked ? link_path : s->socket_path);
        setenv("LMCACHE4J_SERVER", address, 1);
        lmcache4j_engine e = 0;
        int rc = lmcache4j_open(NULL, &LAYOUT, NULL, &e);
        fprintf(stderr, "test_client: uid 65534 was answered: %s %s\n", lmcache4j_status_name(rc), lmcache4j_last_error());
        _exit(rc == LMCACHE4J_ERR_STATE && strstr(lmcache4j_last_error(), linked ? "uid 65534" : "Permission denied") ? 0 : 1);
    }
    int status = -1;
    waitpid(pid, &status, 0);
    chmod(s->socket_path, 0600);
    if (linked) unlink(link_path);
    rmdir(open_dir);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "a client of uid 65534 was not refused (status 0x%x)", status);
}

#endif
