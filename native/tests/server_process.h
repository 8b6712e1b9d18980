/*
 * A real `lmcache4j server` for the client-mode tests: started with the repository's launcher
 * (LMCACHE4J_LAUNCHER, else ../lmcache4j from native/), its output in a log file, waited for until
 * its socket answers, killed or stopped with a signal. Header-only: one test binary uses it.
 */
#ifndef LMCACHE4J_SERVER_PROCESS_H
#define LMCACHE4J_SERVER_PROCESS_H

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

typedef struct server_process {
    pid_t pid;
    char socket_path[108];
    char config_path[512];
    char log_path[512];
} server_process;

/* The server's socket, configuration and log: dir/name.sock, dir/name.yaml, dir/name.log. */
static inline void server_paths(server_process *s, const char *dir, const char *name) {
    snprintf(s->socket_path, sizeof s->socket_path, "%s/%s.sock", dir, name);
    snprintf(s->config_path, sizeof s->config_path, "%s/%s.yaml", dir, name);
    snprintf(s->log_path, sizeof s->log_path, "%s/%s.log", dir, name);
}

static void sleep_ms(long ms) {
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) && errno == EINTR) {
    }
}

static inline int64_t now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Whether something accepts connections at path now. */
static int socket_answers(const char *path) {
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    snprintf(addr.sun_path, sizeof addr.sun_path, "%s", path);
    int ok = connect(fd, (struct sockaddr *)&addr, sizeof addr) == 0;
    close(fd);
    return ok;
}

static void server_print_log(const server_process *s) {
    FILE *f = fopen(s->log_path, "r");
    if (!f) return;
    fprintf(stderr, "---- %s ----\n", s->log_path);
    char line[1024];
    while (fgets(line, sizeof line, f)) fputs(line, stderr);
    fclose(f);
}

/* Starts the server and waits (up to timeout_s) until it accepts; 0, or -1 (log printed). */
/* Waits (up to 5 s) until every thread of a process sent SIGSTOP has stopped: kill() returns before they all have. */
static inline void server_wait_stopped(pid_t pid) {
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/task", (int)pid);
    for (int tries = 0; tries < 500; tries++) {
        DIR *d = opendir(path);
        int running = 0;
        for (struct dirent *t; d && (t = readdir(d));) {
            char stat_path[400], line[512];
            snprintf(stat_path, sizeof stat_path, "%s/%s/stat", path, t->d_name);
            FILE *f = t->d_name[0] == '.' ? NULL : fopen(stat_path, "r");
            if (!f) continue;
            const char *end = fgets(line, sizeof line, f) ? strrchr(line, ')') : NULL;
            running |= end && end[1] == ' ' && end[2] != 'T' && end[2] != 't';
            fclose(f);
        }
        if (d) closedir(d);
        if (!running) return;
        sleep_ms(10);
    }
}

/* A server (not started) whose socket, configuration and log are NAME.sock, NAME.yaml and NAME.log in dir. */
static inline server_process server_named(const char *dir, const char *name) {
    server_process s = {.pid = -1};
    snprintf(s.socket_path, sizeof s.socket_path, "%s/%s.sock", dir, name);
    snprintf(s.config_path, sizeof s.config_path, "%s/%s.yaml", dir, name);
    snprintf(s.log_path, sizeof s.log_path, "%s/%s.log", dir, name);
    return s;
}

static int server_start(server_process *s, int timeout_s) {
    const char *launcher = getenv("LMCACHE4J_LAUNCHER");
    if (!launcher || !*launcher) launcher = "../lmcache4j";
    s->pid = fork();
    if (s->pid == 0) {
        int log = open(s->log_path, O_WRONLY | O_CREAT | O_APPEND, 0600);
        dup2(log, 1);
        dup2(log, 2);
        setpgid(0, 0); /* a signal for the test's group (make's Ctrl-C) still reaches it; kill() reaches it alone */
        execl(launcher, launcher, "server", "--socket", s->socket_path, "--config", s->config_path, (char *)NULL);
        fprintf(stderr, "cannot run %s: %s\n", launcher, strerror(errno));
        _exit(127);
    }
    for (int waited = 0; waited < timeout_s * 10; waited++) {
        if (socket_answers(s->socket_path)) return 0;
        int status;
        if (waitpid(s->pid, &status, WNOHANG) == s->pid) {
            fprintf(stderr, "the server exited before it listened (status 0x%x)\n", status);
            server_print_log(s);
            s->pid = -1;
            return -1;
        }
        sleep_ms(100);
    }
    fprintf(stderr, "the server did not listen at %s within %d s\n", s->socket_path, timeout_s);
    server_print_log(s);
    return -1;
}

/* Sends sig and waits for the server to end; its wait status, or -1. */
static int server_stop(server_process *s, int sig) {
    if (s->pid <= 0) return -1;
    kill(s->pid, sig);
    int status = -1;
    for (int waited = 0; waited < 600; waited++) { /* 60 s: a clean stop closes the engine first */
        if (waitpid(s->pid, &status, WNOHANG) == s->pid) {
            s->pid = -1;
            return status;
        }
        sleep_ms(100);
    }
    kill(s->pid, SIGKILL);
    waitpid(s->pid, &status, 0);
    s->pid = -1;
    return -1;
}

#endif
