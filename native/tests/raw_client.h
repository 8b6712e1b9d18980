/*
 * A client that speaks the server protocol by hand (src/wire.c's framing, not the library), to do
 * what no well-behaved client does: pin, start a store, scribble over half of the pages the
 * server leased to it, and die by SIGKILL before its COPY_DONE. Runs in a forked child.
 */
#ifndef LMCACHE4J_RAW_CLIENT_H
#define LMCACHE4J_RAW_CLIENT_H

#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "lmcache4j.h"
#include "wire.h"

static inline void raw_layout(lmc_out *o, const lmcache4j_layout *l) {
    lmc_out_u32(o, LMCACHE4J_WIRE_MAGIC);
    lmc_out_u32(o, LMCACHE4J_WIRE_VERSION);
    lmc_out_u32(o, (uint32_t)getpid());
    lmc_out_u32(o, 0);
    lmc_out_text(o, "");
    lmc_out_u32(o, 1);
    lmc_out_u32(o, 0);
    lmc_out_u32(o, (uint32_t)l->num_layers);
    lmc_out_u32(o, (uint32_t)l->num_kv_heads);
    lmc_out_u32(o, (uint32_t)l->head_size);
    lmc_out_text(o, l->dtype);
    lmc_out_u32(o, (uint32_t)l->block_size);
    lmc_out_u32(o, (uint32_t)l->num_blocks);
    lmc_out_text(o, l->kv_format);
    lmc_out_text(o, NULL);
}

/* Sends one message and reads the next; exits the child (status 2) on any failure. */
static inline lmc_msg raw_say(int fd, uint16_t type, lmc_out *body) {
    lmc_msg m;
    if (lmc_send(fd, type, body) < 0 || lmc_recv(fd, &m) < 0) _exit(2);
    lmc_out_free(body);
    return m;
}

/*
 * The child's whole life: HELLO, LOOKUP pinned for "raw-req" over pin_tokens, then STORE of
 * tokens at slots; at the COPY, 0xEE over the first half of every page it names, then SIGKILL.
 * Exits 3 if the server never sent a COPY.
 */
/* A connection that said HELLO and got WELCOME; exits the process (status 2) otherwise. */
static inline int raw_hello(const char *socket_path, const lmcache4j_layout *layout) {
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    snprintf(addr.sun_path, sizeof addr.sun_path, "%s", socket_path);
    if (connect(fd, (struct sockaddr *)&addr, sizeof addr) < 0) _exit(2);
    lmc_out o = {0};
    raw_layout(&o, layout);
    lmc_msg m = raw_say(fd, LMCACHE4J_WIRE_HELLO, &o);
    if (m.type != LMCACHE4J_WIRE_WELCOME) _exit(2);
    lmc_msg_free(&m);
    return fd;
}

static inline void raw_client_die_mid_store(const char *socket_path, const lmcache4j_layout *layout,
                                            const int32_t *pin_tokens, uint32_t pin_count, const int32_t *tokens,
                                            const int64_t *slots, uint32_t count) {
    int fd = raw_hello(socket_path, layout);
    lmc_out o = {0};
    lmc_msg m;
    lmc_out_text(&o, NULL);
    lmc_out_text(&o, NULL);
    lmc_out_text(&o, "raw-req");
    lmc_out_array(&o, pin_tokens, pin_count, sizeof *pin_tokens);
    m = raw_say(fd, LMCACHE4J_WIRE_LOOKUP, &o);
    if (m.type != LMCACHE4J_WIRE_RESULT) _exit(2);
    lmc_msg_free(&m);
    lmc_out_text(&o, NULL);
    lmc_out_text(&o, NULL);
    lmc_out_u64(&o, 0);
    lmc_out_array(&o, tokens, count, sizeof *tokens);
    lmc_out_array(&o, slots, count, sizeof *slots);
    m = raw_say(fd, LMCACHE4J_WIRE_STORE, &o);
    void *slab_base[64] = {0};
    for (;;) {
        if (m.type == LMCACHE4J_WIRE_SLAB) {
            lmc_in in = {m.body, m.length, 0, 0};
            uint32_t index = lmc_in_u32(&in);
            lmc_in_u32(&in);
            uint64_t bytes = lmc_in_u64(&in);
            if (index < 64) slab_base[index] = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, m.fd, 0);
        } else if (m.type == LMCACHE4J_WIRE_COPY) {
            lmc_in in = {m.body, m.length, 0, 0};
            uint32_t ops = lmc_in_u32(&in);
            for (uint32_t i = 0; i < ops; i++) {
                lmc_in_u32(&in);
                lmc_in_u32(&in);
                int32_t from = (int32_t)lmc_in_u32(&in), to = (int32_t)lmc_in_u32(&in);
                uint32_t slab = lmc_in_u32(&in);
                lmc_in_u32(&in);
                uint64_t offset = lmc_in_u64(&in);
                size_t page = (size_t)(to - from) * 2 * (size_t)layout->num_layers * (size_t)layout->num_kv_heads *
                              (size_t)layout->head_size * 2; /* float16, two planes */
                if (slab < 64 && slab_base[slab] && slab_base[slab] != MAP_FAILED) {
                    memset((char *)slab_base[slab] + offset, 0xEE, page / 2);
                }
            }
            raise(SIGKILL);
        } else {
            _exit(3);
        }
        lmc_msg_free(&m);
        if (lmc_recv(fd, &m) < 0) _exit(2);
    }
}

#endif
