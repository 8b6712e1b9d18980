/*
 * Client mode of liblmcache4j.so: an engine that is a connection to `lmcache4j server` (docs/server.md)
 * instead of a JVM in this process. Nothing here loads a JVM. The calls of lmcache4j.h reach the
 * lmc_client_* functions below through api.c when the engine handle is a client's.
 *
 *   client_select.c  whether lmcache4j_open means a server, and which (LMCACHE4J_SERVER, lmcache4j.server)
 *   client_conn.c    the connection: connect, HELLO, requests, SLAB maps, reconnect after the server left
 *   client_copy.c    a COPY's chunk copies between the caller's paged caches and the mapped pool pages
 *   client_device.c  device caches: their CUDA IPC handles for the server, the caller's stream waited for
 *   client_api.c     the handle table and one function per call of the ABI
 */
#ifndef LMCACHE4J_CLIENT_H
#define LMCACHE4J_CLIENT_H

#include <pthread.h>
#include <stdint.h>
#include <sys/un.h>

#include "internal.h"
#include "wire.h"

/* Client handles carry this bit; the JVM's handles are 1, 2, 3… and never reach it. */
#define LMC_CLIENT_HANDLE_BIT (1ULL << 62)

/* What a request answers when the server cannot be reached: the caller gets the call's "nothing". */
#define LMC_SERVER_GONE (-1)

/* One slab of the server's pool, mapped here (base NULL: not received on this connection). */
typedef struct lmc_slab {
    void *base;
    uint64_t bytes;
} lmc_slab;

/* The caller's paged caches, as the copies see them (kv_index.h's kv_shape, less the tokens). */
typedef struct lmc_caches_shape {
    int32_t format, planes, layers, block_size;
    int64_t num_slots, row_bytes;
} lmc_caches_shape;

/* One engine in client mode: a connection (or the memory of one, while the server is gone). */
typedef struct lmc_client {
    pthread_mutex_t lock;            /* one request in flight per connection; guards all below */
    char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
    int fd;                          /* -1 while not connected */
    lmc_out hello;                   /* the HELLO body, said again on every reconnect */
    lmc_caches_shape shape;
    uint64_t page_bytes;             /* from WELCOME */
    uint32_t chunk_size, server_pid;
    lmc_slab *slabs;                 /* by slab index; unmapped when the connection ends */
    uint32_t num_slabs;
    uint64_t *caches;                /* the registered layer addresses, or NULL */
    int on_device;                   /* the caches are CUDA device memory: the server copies them */
    lmc_out device_body;             /* their REGISTER_DEVICE_CACHES, said again after every reconnect */
    int64_t next_connect_ns;         /* no reconnect before this (CLOCK_MONOTONIC) */
    int gone_logged;                 /* the server's absence has been logged since it was last seen */
    uint32_t generation;             /* connections made so far: an open op remembers the one it lives on */
    struct lmc_open_op **ops;        /* open prefetches and layered operations (client_ops.c) */
    uint32_t num_ops, ops_capacity;
    uint64_t ops_issued;             /* handles issued: 1, 2, 3… never reused */
    int kv_events;                   /* the caller records KV events (client_events.c) */
    uint32_t kv_events_generation;   /* the connection the server records them for (0: none yet) */
} lmc_client;

/* A RESULT: its values and text point into msg's body. */
typedef struct lmc_result {
    lmc_msg msg;
    uint32_t num_values;
    const unsigned char *values;     /* num_values little-endian i64 */
    const char *text;
    uint32_t text_length;
} lmc_result;

LMC_HIDDEN int64_t lmc_result_value(const lmc_result *r, uint32_t i);
LMC_HIDDEN void lmc_result_free(lmc_result *r);

/* The arrays of the store or retrieve a COPY belongs to. */
typedef struct lmc_copy_job {
    uint16_t kind;                   /* the only op kind the request allows: GATHER (store) or SCATTER */
    const int64_t *slots;
    uint32_t num_tokens;
} lmc_copy_job;

/* client_select.c: the server lmcache4j_open should use. 1 and *path (malloc'd) for client mode,
 * 0 for the embedded engine, or -status (message set) for an address that is not a server's. */
LMC_HIDDEN int lmc_client_selected(const char *config_path, const char *settings, char **path);

/* client_conn.c */
LMC_HIDDEN int lmc_conn_open(lmc_client *c);   /* connect and HELLO; a status, the server's refusal included */
LMC_HIDDEN void lmc_conn_close(lmc_client *c); /* GOODBYE, close, unmap */
/*
 * Sends one request and reads to its RESULT (0, *result filled) or ERROR (its status, message
 * set), serving SLABs and the COPY on the way (job: NULL for requests without copies).
 * LMC_SERVER_GONE when the server cannot be reached or broke the conversation (logged once).
 */
LMC_HIDDEN int lmc_conn_request(lmc_client *c, uint16_t type, const lmc_out *body, const lmc_copy_job *job,
                                lmc_result *result);

/* client_copy.c: runs a COPY's ops (validated first: nothing is copied for a bad one). 0, or a
 * status with the reason written into why. */
LMC_HIDDEN int lmc_copy_run(const lmc_client *c, const lmc_copy_job *job, lmc_in *ops, char *why, size_t why_capacity);

/* client_device.c: the REGISTER_DEVICE_CACHES body of device caches (a status, message set, on a
 * layer the driver does not know or cannot share), and the wait for the caller's stream. */
LMC_HIDDEN int lmc_device_body(const lmc_client *c, const uint64_t *layers, int32_t num_layers, int32_t device,
                               lmc_out *body);
LMC_HIDDEN int lmc_device_wait(uint64_t cuda_stream);
/* The CUDA device of memory at address, or LMCACHE4J_DEVICE_HOST (no driver, or memory it does not know). */
LMC_HIDDEN int lmc_device_of(uint64_t address);

#endif
