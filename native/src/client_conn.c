/*
 * One connection to the server: connect and HELLO, one request at a time (the caller holds the
 * client's lock), the SLAB descriptors it maps, and what happens when the server goes away.
 *
 * A server that cannot be reached, closes, or breaks the protocol is "gone": the connection and
 * its slab mappings are dropped, the absence is logged once, and every request answers
 * LMC_SERVER_GONE (the calls turn that into a miss, a skipped store, nothing loaded). A request
 * after that tries to connect again, at most once a second, saying HELLO as at open; the new
 * server's slabs are mapped afresh as its COPYs name them.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "client.h"

#define RECONNECT_INTERVAL_NS 1000000000LL
#define MAX_SLABS (1u << 20)
#define DEFAULT_TIMEOUT_MS 30000

static int64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void unmap_slabs(lmc_client *c) {
    for (uint32_t i = 0; i < c->num_slabs; i++) {
        if (c->slabs[i].base) munmap(c->slabs[i].base, c->slabs[i].bytes);
    }
    free(c->slabs);
    c->slabs = NULL;
    c->num_slabs = 0;
}

static void drop(lmc_client *c) {
    if (c->fd >= 0) close(c->fd);
    c->fd = -1;
    unmap_slabs(c);
    c->next_connect_ns = now_ns() + RECONNECT_INTERVAL_NS;
}

/* The server is gone (or spoke nonsense): drop the connection, say so once per absence. */
static int gone(lmc_client *c, const char *what) {
    drop(c);
    if (!c->gone_logged) {
        fprintf(stderr, "lmcache4j: the server at %s is gone (%s): lookups miss and stores are skipped until it is "
                "back; reconnecting at most once a second\n", c->path, what);
        c->gone_logged = 1;
    }
    return LMC_SERVER_GONE;
}

/*
 * How long a request may wait for the server (LMCACHE4J_SERVER_TIMEOUT_MS, default 30 s; 0: for
 * ever): a server that stops answering (stopped, wedged) then counts as gone, so that the serving
 * loop is never its hostage.
 */
static int timeout_ms(void) {
    const char *v = getenv("LMCACHE4J_SERVER_TIMEOUT_MS");
    char *end;
    long ms = v && *v ? strtol(v, &end, 10) : DEFAULT_TIMEOUT_MS;
    return v && *v && (*end || ms < 0 || ms > 86400000L) ? DEFAULT_TIMEOUT_MS : (int)ms;
}

static void set_timeout(int fd, int ms) {
    struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
}

/* Why a send or receive failed, in words. */
static const char *io_failure(int e) {
    return e == EAGAIN || e == EWOULDBLOCK ? "no answer within LMCACHE4J_SERVER_TIMEOUT_MS" : strerror(e);
}

/* An ERROR message as a status, its message this thread's last error. */
static int error_status(const lmc_msg *m) {
    lmc_in in = {m->body, m->length, 0, 0};
    int32_t status = (int32_t)lmc_in_u32(&in);
    uint32_t n;
    const char *text = lmc_in_text(&in, &n);
    if (in.bad || status <= LMCACHE4J_OK || status > LMCACHE4J_ERR_INTERNAL) {
        return lmc_fail(LMCACHE4J_ERR_INTERNAL, "the server answered a malformed ERROR (status %d)", (int)status);
    }
    return lmc_fail(status, "%.*s", (int)n, text ? text : "");
}

/* A new connection copies for the device caches registered on the old one (their handles said again). */
static int register_again(lmc_client *c, int fd) {
    lmc_msg m;
    if (lmc_send(fd, LMCACHE4J_WIRE_REGISTER_DEVICE_CACHES, &c->device_body) < 0 || lmc_recv(fd, &m) < 0) {
        return lmc_fail(LMCACHE4J_ERR_STATE, "the LMCache4j server at unix://%s did not take the device caches again: "
                        "%s", c->path, io_failure(errno));
    }
    int rc = m.type == LMCACHE4J_WIRE_RESULT ? LMCACHE4J_OK
             : m.type == LMCACHE4J_WIRE_ERROR ? error_status(&m)
             : lmc_fail(LMCACHE4J_ERR_INTERNAL, "the server answered REGISTER_DEVICE_CACHES with message type %u", m.type);
    lmc_msg_free(&m);
    return rc;
}

int lmc_conn_open(lmc_client *c) {
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return lmc_fail(LMCACHE4J_ERR_STATE, "cannot create a Unix socket: %s", strerror(errno));
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    memcpy(addr.sun_path, c->path, strlen(c->path) + 1);
    if (connect(fd, (struct sockaddr *)&addr, sizeof addr) < 0) {
        int e = errno;
        close(fd);
        return lmc_fail(LMCACHE4J_ERR_STATE, "cannot connect to the LMCache4j server at unix://%s: %s (is "
                        "'lmcache4j server --socket %s' running, as this user?)", c->path, strerror(e), c->path);
    }
    set_timeout(fd, timeout_ms());
    lmc_msg m;
    /* A server that refuses this peer (its uid) may answer ERROR and close before reading HELLO:
     * a failed send still leaves that answer to be read. */
    int sent = lmc_send(fd, LMCACHE4J_WIRE_HELLO, &c->hello), send_errno = errno;
    if (lmc_recv(fd, &m) < 0) {
        int e = sent < 0 ? send_errno : errno;
        close(fd);
        return lmc_fail(LMCACHE4J_ERR_STATE, "the LMCache4j server at unix://%s did not answer HELLO: %s",
                        c->path, io_failure(e));
    }
    int rc;
    if (m.type == LMCACHE4J_WIRE_WELCOME) {
        lmc_in in = {m.body, m.length, 0, 0};
        uint32_t version = lmc_in_u32(&in);
        c->server_pid = lmc_in_u32(&in);
        c->page_bytes = lmc_in_u64(&in);
        c->chunk_size = lmc_in_u32(&in);
        if (in.bad || version != LMCACHE4J_WIRE_VERSION || !c->chunk_size || !c->page_bytes) {
            rc = lmc_fail(LMCACHE4J_ERR_UNSUPPORTED, "the server at unix://%s answered a WELCOME this client cannot "
                          "read (protocol version %u, this client's %d)", c->path, version, LMCACHE4J_WIRE_VERSION);
        } else {
            rc = LMCACHE4J_OK;
        }
    } else if (m.type == LMCACHE4J_WIRE_ERROR) {
        rc = error_status(&m);
    } else {
        rc = lmc_fail(LMCACHE4J_ERR_INTERNAL, "the server at unix://%s answered HELLO with message type %u",
                      c->path, m.type);
    }
    lmc_msg_free(&m);
    if (!rc && c->on_device) rc = register_again(c, fd);
    if (rc) {
        close(fd);
        return rc;
    }
    c->fd = fd;
    c->generation++; /* ops opened on an earlier connection are gone with it */
    return LMCACHE4J_OK;
}

void lmc_conn_close(lmc_client *c) {
    if (c->fd >= 0) lmc_send(c->fd, LMCACHE4J_WIRE_GOODBYE, NULL);
    drop(c);
}

/* Maps the slab a SLAB message carries; -1 with the reason in why for a malformed or second one. */
static int map_slab(lmc_client *c, lmc_msg *m, char *why, size_t why_capacity) {
    lmc_in in = {m->body, m->length, 0, 0};
    uint32_t index = lmc_in_u32(&in);
    lmc_in_u32(&in);
    uint64_t bytes = lmc_in_u64(&in);
    if (in.bad || m->fd < 0 || index >= MAX_SLABS || !bytes || bytes > SIZE_MAX) {
        snprintf(why, why_capacity, "a malformed SLAB (slab %u, %llu bytes, %s)", index, (unsigned long long)bytes,
                 m->fd < 0 ? "no descriptor" : "a descriptor");
        return -1;
    }
    if (index >= c->num_slabs) {
        lmc_slab *grown = realloc(c->slabs, (index + 1) * sizeof *grown);
        if (!grown) {
            snprintf(why, why_capacity, "out of memory for slab %u", index);
            return -1;
        }
        memset(grown + c->num_slabs, 0, (index + 1 - c->num_slabs) * sizeof *grown);
        c->slabs = grown;
        c->num_slabs = index + 1;
    }
    if (c->slabs[index].base) {
        snprintf(why, why_capacity, "slab %u sent twice", index);
        return -1;
    }
    void *base = mmap(NULL, (size_t)bytes, PROT_READ | PROT_WRITE, MAP_SHARED, m->fd, 0);
    if (base == MAP_FAILED) {
        snprintf(why, why_capacity, "cannot map slab %u (%llu bytes): %s", index, (unsigned long long)bytes,
                 strerror(errno));
        return -1;
    }
    c->slabs[index].base = base;
    c->slabs[index].bytes = bytes;
    return 0; /* the mapping keeps the memory; the descriptor is closed with the message */
}

/* Serves a COPY: runs its ops, answers COPY_DONE. -1 when the answer could not be sent. */
static int serve_copy(lmc_client *c, const lmc_copy_job *job, const lmc_msg *m, int *copy_status, char *why,
                      size_t why_capacity) {
    lmc_in in = {m->body, m->length, 0, 0};
    if (c->on_device) job = NULL; /* device caches are the server's to copy: this process never reads them */
    *copy_status = job ? lmc_copy_run(c, job, &in, why, why_capacity)
                       : (snprintf(why, why_capacity, "a COPY inside a request that copies nothing here"),
                          LMCACHE4J_ERR_INTERNAL);
    lmc_out done = {0};
    lmc_out_u32(&done, (uint32_t)*copy_status);
    lmc_out_text(&done, *copy_status ? why : "");
    int rc = lmc_send(c->fd, LMCACHE4J_WIRE_COPY_DONE, &done);
    lmc_out_free(&done);
    return rc;
}

int lmc_conn_request(lmc_client *c, uint16_t type, const lmc_out *body, const lmc_copy_job *job, lmc_result *result) {
    memset(result, 0, sizeof *result);
    result->msg.fd = -1;
    if (c->fd < 0) {
        if (now_ns() < c->next_connect_ns) return LMC_SERVER_GONE;
        if (lmc_conn_open(c)) return gone(c, lmcache4j_last_error());
        if (c->gone_logged) {
            fprintf(stderr, "lmcache4j: reconnected to the server at %s (pid %u)\n", c->path, c->server_pid);
            c->gone_logged = 0;
        }
    }
    if (lmc_send(c->fd, type, body) < 0) return gone(c, io_failure(errno));
    char why[256];
    int copy_status = LMCACHE4J_OK;
    for (;;) {
        lmc_msg m;
        if (lmc_recv(c->fd, &m) < 0) return gone(c, io_failure(errno));
        if (m.type == LMCACHE4J_WIRE_SLAB) {
            int rc = map_slab(c, &m, why, sizeof why);
            lmc_msg_free(&m);
            if (rc) return gone(c, why);
        } else if (m.type == LMCACHE4J_WIRE_COPY) {
            int rc = serve_copy(c, job, &m, &copy_status, why, sizeof why);
            lmc_msg_free(&m);
            if (rc) return gone(c, io_failure(errno));
        } else if (m.type == LMCACHE4J_WIRE_ERROR) {
            int rc = error_status(&m);
            lmc_msg_free(&m);
            if (copy_status) return lmc_fail(copy_status, "%s", why); /* our copy's failure, not the echo */
            return rc;
        } else if (m.type == LMCACHE4J_WIRE_RESULT) {
            lmc_in in = {m.body, m.length, 0, 0};
            result->num_values = lmc_in_u32(&in);
            if (!in.bad && (m.length - in.at) / 8 >= result->num_values) {
                result->values = m.body + in.at;
                in.at += (size_t)result->num_values * 8;
                result->text = lmc_in_text(&in, &result->text_length);
            } else {
                in.bad = 1;
            }
            if (in.bad) {
                lmc_msg_free(&m);
                return gone(c, "a malformed RESULT");
            }
            result->msg = m;
            return LMCACHE4J_OK;
        } else {
            snprintf(why, sizeof why, "an unexpected message of type %u", m.type);
            lmc_msg_free(&m);
            return gone(c, why);
        }
    }
}

int64_t lmc_result_value(const lmc_result *r, uint32_t i) {
    if (i >= r->num_values) return 0;
    uint64_t v = 0;
    for (int b = 0; b < 8; b++) v |= (uint64_t)r->values[(size_t)i * 8 + b] << (8 * b);
    return (int64_t)v;
}

void lmc_result_free(lmc_result *r) {
    lmc_msg_free(&r->msg);
}
