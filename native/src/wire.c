/* Framing of the server protocol: little-endian fields, whole messages, SCM_RIGHTS (see wire.h). */
#include "wire.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <sys/socket.h>
#include <time.h>
#include <sys/uio.h>
#include <unistd.h>

#if __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "the wire is little-endian and arrays are copied as they lie in memory: a big-endian host needs byte swaps"
#endif

/* ------------------------------------------------------------------ building a body */

static unsigned char *reserve(lmc_out *o, size_t n) {
    if (o->failed) return NULL;
    if (o->capacity - o->length < n) {
        size_t want = o->capacity ? o->capacity : 256;
        while (want - o->length < n) {
            if (want > SIZE_MAX / 2) {
                o->failed = 1;
                return NULL;
            }
            want *= 2;
        }
        unsigned char *grown = realloc(o->data, want);
        if (!grown) {
            o->failed = 1;
            return NULL;
        }
        o->data = grown;
        o->capacity = want;
    }
    unsigned char *at = o->data + o->length;
    o->length += n;
    return at;
}

static void put_le(unsigned char *at, uint64_t v, int bytes) {
    for (int i = 0; i < bytes; i++) at[i] = (unsigned char)(v >> (8 * i));
}

void lmc_out_u16(lmc_out *o, uint16_t v) {
    unsigned char *at = reserve(o, 2);
    if (at) put_le(at, v, 2);
}

void lmc_out_u32(lmc_out *o, uint32_t v) {
    unsigned char *at = reserve(o, 4);
    if (at) put_le(at, v, 4);
}

void lmc_out_u64(lmc_out *o, uint64_t v) {
    unsigned char *at = reserve(o, 8);
    if (at) put_le(at, v, 8);
}

void lmc_out_bytes(lmc_out *o, const void *p, size_t n) {
    unsigned char *at = reserve(o, n);
    if (at && n) memcpy(at, p, n);
}

void lmc_out_text(lmc_out *o, const char *s) {
    if (!s) {
        lmc_out_u32(o, LMCACHE4J_WIRE_NULL_STRING);
        return;
    }
    size_t n = strlen(s);
    if (n >= LMCACHE4J_WIRE_NULL_STRING) {
        o->failed = 1;
        return;
    }
    lmc_out_u32(o, (uint32_t)n);
    lmc_out_bytes(o, s, n);
}

void lmc_out_array(lmc_out *o, const void *elements, size_t count, size_t size) {
    lmc_out_u32(o, (uint32_t)count);
    lmc_out_bytes(o, elements, count * size); /* a little-endian host's bytes are the wire's */
}

void lmc_out_free(lmc_out *o) {
    free(o->data);
    memset(o, 0, sizeof *o);
}

/* ------------------------------------------------------------------ reading a body */

static uint64_t get_le(lmc_in *in, int bytes) {
    if (in->bad || in->length - in->at < (size_t)bytes) {
        in->bad = 1;
        return 0;
    }
    uint64_t v = 0;
    for (int i = 0; i < bytes; i++) v |= (uint64_t)in->data[in->at + i] << (8 * i);
    in->at += bytes;
    return v;
}

uint16_t lmc_in_u16(lmc_in *in) {
    return (uint16_t)get_le(in, 2);
}

uint32_t lmc_in_u32(lmc_in *in) {
    return (uint32_t)get_le(in, 4);
}

uint64_t lmc_in_u64(lmc_in *in) {
    return get_le(in, 8);
}

const char *lmc_in_text(lmc_in *in, uint32_t *length) {
    uint32_t n = lmc_in_u32(in);
    *length = 0;
    if (in->bad || n == LMCACHE4J_WIRE_NULL_STRING) return NULL;
    if (in->length - in->at < n) {
        in->bad = 1;
        return NULL;
    }
    const char *s = (const char *)in->data + in->at;
    in->at += n;
    *length = n;
    return s;
}

/* ------------------------------------------------------------------ whole messages */

int lmc_send(int fd, uint16_t type, const lmc_out *body) {
    if (body && body->failed) {
        errno = ENOMEM;
        return -1;
    }
    size_t length = body ? body->length : 0;
    if (length > LMCACHE4J_WIRE_MAX_BODY) {
        errno = EMSGSIZE;
        return -1;
    }
    unsigned char header[LMCACHE4J_WIRE_HEADER_BYTES];
    put_le(header, length, 4);
    put_le(header + 4, type, 2);
    put_le(header + 6, 0, 2);
    struct iovec iov[2] = {{header, sizeof header}, {body ? body->data : NULL, length}};
    size_t sent = 0, total = sizeof header + length;
    while (sent < total) {
        struct iovec part[2];
        int parts = 0;
        size_t skip = sent;
        for (int i = 0; i < 2; i++) {
            if (skip >= iov[i].iov_len) {
                skip -= iov[i].iov_len;
                continue;
            }
            part[parts].iov_base = (char *)iov[i].iov_base + skip;
            part[parts++].iov_len = iov[i].iov_len - skip;
            skip = 0;
        }
        struct msghdr m = {.msg_iov = part, .msg_iovlen = (size_t)parts};
        ssize_t n = sendmsg(fd, &m, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        sent += (size_t)n;
    }
    return 0;
}

/*
 * How long a read polls before it sleeps in the kernel. An answer (a lookup: tens of µs) or the
 * next request of a burst usually comes sooner; a thread asleep in recvmsg is woken through the
 * scheduler, which on an idle machine costs about as much again as the request itself.
 */
#define SPIN_NS 50000L

static long elapsed_ns(const struct timespec *since) {
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (now.tv_sec - since->tv_sec) * 1000000000L + (now.tv_nsec - since->tv_nsec);
}

/* recvmsg, polled for up to SPIN_NS (yielding the CPU between polls), then waited for. */
static ssize_t recv_soon(int sock, struct msghdr *m) {
    struct timespec start;
    clock_gettime(CLOCK_MONOTONIC, &start);
    for (;;) {
        ssize_t r = recvmsg(sock, m, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
        if (r >= 0 || (errno != EAGAIN && errno != EWOULDBLOCK) || elapsed_ns(&start) > SPIN_NS) {
            if (r >= 0 || (errno != EAGAIN && errno != EWOULDBLOCK)) return r;
            return recvmsg(sock, m, MSG_CMSG_CLOEXEC);
        }
        sched_yield();
    }
}

/* Reads exactly n bytes; a descriptor that arrives with them is kept in *fd (a second one is EPROTO). */
static int read_full(int sock, void *into, size_t n, int *fd) {
    size_t got = 0;
    while (got < n) {
        union {
            struct cmsghdr align;
            char buf[CMSG_SPACE(sizeof(int) * 4)];
        } control;
        struct iovec iov = {(char *)into + got, n - got};
        struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = control.buf,
                           .msg_controllen = sizeof control.buf};
        ssize_t r = recv_soon(sock, &m);
        if (r < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        int extra = 0;
        for (struct cmsghdr *c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c)) {
            if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
            size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
            for (size_t i = 0; i < count; i++) {
                int received;
                memcpy(&received, CMSG_DATA(c) + i * sizeof(int), sizeof received);
                if (*fd < 0) {
                    *fd = received;
                } else {
                    close(received); /* never leak a descriptor, even from a confused server */
                    extra = 1;
                }
            }
        }
        if (extra || (m.msg_flags & MSG_CTRUNC)) {
            errno = EPROTO;
            return -1;
        }
        if (r == 0) {
            errno = ECONNRESET;
            return -1;
        }
        got += (size_t)r;
    }
    return 0;
}

int lmc_recv(int sock, lmc_msg *msg) {
    memset(msg, 0, sizeof *msg);
    msg->fd = -1;
    unsigned char header[LMCACHE4J_WIRE_HEADER_BYTES];
    if (read_full(sock, header, sizeof header, &msg->fd) < 0) goto fail;
    uint32_t length = (uint32_t)header[0] | (uint32_t)header[1] << 8 | (uint32_t)header[2] << 16 |
                      (uint32_t)header[3] << 24;
    msg->type = (uint16_t)(header[4] | header[5] << 8);
    if (header[6] || header[7] || length > LMCACHE4J_WIRE_MAX_BODY) {
        errno = EPROTO;
        goto fail;
    }
    msg->length = length;
    msg->body = malloc(length ? length : 1);
    if (!msg->body) {
        errno = ENOMEM;
        goto fail;
    }
    if (length && read_full(sock, msg->body, length, &msg->fd) < 0) goto fail;
    return 0;
fail:;
    int saved = errno;
    lmc_msg_free(msg);
    errno = saved;
    return -1;
}

void lmc_msg_free(lmc_msg *msg) {
    free(msg->body);
    if (msg->fd >= 0) close(msg->fd);
    msg->body = NULL;
    msg->fd = -1;
}
