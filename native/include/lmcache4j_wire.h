/*
 * LMCache4j server protocol, version 2: what a client (liblmcache4j.so in client mode) and
 * `lmcache4j server` say to each other on the server's Unix stream socket. docs/server.md explains
 * it in prose; Java mirrors these numbers in org.lmcache4j.server.WireProtocol, and a test checks
 * that the two agree, so this file is the one definition.
 *
 * KV bytes never cross the socket. The pool's slabs are shared memory (memfd, MAP_SHARED); the
 * server passes their descriptors (SLAB, SCM_RIGHTS) and the client copies between its own paged
 * caches and pool pages itself (COPY), under leases the server granted, and says when it is done
 * (COPY_DONE). Only then does the server publish what a store wrote.
 *
 * Framing. Little-endian throughout. Every message is an 8-byte header and a body:
 *
 *     u32 body_length   bytes after the header (at most LMCACHE4J_WIRE_MAX_BODY)
 *     u16 type          LMCACHE4J_WIRE_* below
 *     u16 reserved      0 (anything else is refused)
 *
 * Body fields are packed in the order written, without padding:
 *     string  = u32 length + UTF-8 bytes (no NUL); length LMCACHE4J_WIRE_NULL_STRING (0xFFFFFFFF)
 *               means "none" (C's NULL) where a field says so, and is refused elsewhere
 *     T[]     = u32 count + count elements
 *
 * Conversation. The client's first message is HELLO; the server answers WELCOME, or ERROR and
 * closes. Then the client sends one request at a time (one in flight per connection) and reads
 * until that request's final message, RESULT or ERROR. Inside a STORE, RETRIEVE or COPY_LAYER the server may
 * first send SLAB messages and one COPY, which the client answers with COPY_DONE. The client ends
 * with GOODBYE (no answer) or by closing; either way the server drops the connection's pins and
 * leases. An ERROR answering a request leaves the connection usable; an ERROR answering HELLO,
 * or one whose status is LMCACHE4J_ERR_INTERNAL for a malformed message, is followed by close.
 */
#ifndef LMCACHE4J_WIRE_H
#define LMCACHE4J_WIRE_H

#include <stdint.h>

/* 2: KV events (28-29), prefetch (32-36) and layer-by-layer copies (40-44) were added to version 1. */
#define LMCACHE4J_WIRE_VERSION 2
/* "LMC4" as bytes on the wire, read as a little-endian u32. */
#define LMCACHE4J_WIRE_MAGIC 0x34434D4Cu
#define LMCACHE4J_WIRE_HEADER_BYTES 8
/* 256 MiB: a STORE of 2^24 tokens (tokens and slots) fits; a longer body is refused and closes. */
#define LMCACHE4J_WIRE_MAX_BODY (1u << 28)
#define LMCACHE4J_WIRE_NULL_STRING 0xFFFFFFFFu

/* ---------------------------------------------------------------- handshake and answers */

/*
 * HELLO (client -> server), the first message:
 *   u32 magic            LMCACHE4J_WIRE_MAGIC
 *   u32 version          LMCACHE4J_WIRE_VERSION
 *   u32 pid              the client's process id (logs)
 *   u32 reserved         0
 *   string model         enters every key ("" = "default")
 *   i32 world_size       tensor-parallel size (0 = 1)
 *   i32 rank
 *   i32 num_layers, i32 num_kv_heads, i32 head_size
 *   string dtype         as lmcache4j_layout.dtype
 *   i32 block_size, i32 num_blocks
 *   string kv_format     as lmcache4j_layout.kv_format
 *   string settings      the caller's overlay (lmcache4j_options.settings, YAML or JSON), or none
 * The first client opens the server's engine with its model, parallel rank and layout, and its
 * settings laid over the server's configuration (--config). A later client must give the same
 * model, world_size, rank and layout (num_blocks excepted: each client has its own caches and
 * checks its slots against its own num_blocks) and settings that leave the effective configuration
 * as it is; otherwise ERROR LMCACHE4J_ERR_INVALID_ARGUMENT naming what differs. The key
 * lmcache4j.server in settings is the client's own and is ignored.
 * A version other than the server's: ERROR LMCACHE4J_ERR_UNSUPPORTED naming both versions.
 * Another uid than the server's (SO_PEERCRED): ERROR LMCACHE4J_ERR_STATE naming both uids.
 */
#define LMCACHE4J_WIRE_HELLO 1

/*
 * WELCOME (server -> client):
 *   u32 version          LMCACHE4J_WIRE_VERSION
 *   u32 server_pid
 *   u64 page_bytes       bytes of one pool page (one chunk in the engine's chunk format)
 *   u32 chunk_size       tokens per chunk
 *   u32 reserved         0
 */
#define LMCACHE4J_WIRE_WELCOME 2

/*
 * ERROR (server -> client): a request failed, nothing changed (what the embedded engine would
 * have answered with this status).
 *   i32 status           an lmcache4j_status of lmcache4j.h (never LMCACHE4J_OK)
 *   string message
 */
#define LMCACHE4J_WIRE_ERROR 3

/*
 * RESULT (server -> client): a request succeeded.
 *   i64[] values         the request's numbers (each request below says which)
 *   string text          its text ("" when it has none)
 */
#define LMCACHE4J_WIRE_RESULT 4

/* ---------------------------------------------------------------- shared memory and copies */

/*
 * SLAB (server -> client), with exactly one descriptor in SCM_RIGHTS ancillary data, sent in the
 * same sendmsg as the header (read each header with recvmsg, room for one descriptor):
 *   u32 slab             the slab's index (slabs are numbered from 0 in the order the pool maps them)
 *   u32 reserved         0
 *   u64 bytes            its size; map it whole: mmap(NULL, bytes, PROT_READ|PROT_WRITE, MAP_SHARED, fd, 0)
 * Sent, once per connection and slab, before the first COPY that names the slab. No answer.
 */
#define LMCACHE4J_WIRE_SLAB 5

/*
 * COPY (server -> client), at most once inside a STORE, RETRIEVE or COPY_LAYER, after every SLAB it names:
 *   lmcache4j_wire_copy_op[] ops
 * Each op copies one chunk, tokens [from, to) of the request's tokens and slots (indices into
 * the arrays the client sent): GATHER from the client's paged caches into the page at
 * (slab, offset), SCATTER from that page into the caches, in the engine's chunk format
 * [2, layers, to - from, heads * head_size]. layer -1 is the whole chunk; 0..layers-1 that
 * layer's rows alone. A slot of -1 is neither read nor written.
 * The client answers COPY_DONE once every op has landed (or failed).
 */
#define LMCACHE4J_WIRE_COPY 6

/*
 * COPY_DONE (client -> server), answering COPY:
 *   i32 status           LMCACHE4J_OK when every op landed; else an lmcache4j_status, and the
 *                        server publishes nothing the COPY was for (the request answers ERROR
 *                        with this status and message)
 *   string message       "" when ok
 */
#define LMCACHE4J_WIRE_COPY_DONE 7

#define LMCACHE4J_WIRE_GATHER 1  /* paged caches -> page (a store) */
#define LMCACHE4J_WIRE_SCATTER 2 /* page -> paged caches (a retrieve) */
#define LMCACHE4J_WIRE_WHOLE_CHUNK (-1)
#define LMCACHE4J_WIRE_COPY_OP_BYTES 32

/* One op of COPY, as it lies on the wire (naturally aligned: no padding). */
typedef struct lmcache4j_wire_copy_op {
    uint16_t kind;     /* LMCACHE4J_WIRE_GATHER or LMCACHE4J_WIRE_SCATTER */
    uint16_t reserved; /* 0 */
    int32_t layer;     /* LMCACHE4J_WIRE_WHOLE_CHUNK, or one layer */
    int32_t from;      /* first token of the chunk, an index into the request's tokens */
    int32_t to;        /* one past its last token */
    uint32_t slab;     /* the slab that holds the page */
    uint32_t reserved2;/* 0 */
    uint64_t offset;   /* the page's byte offset in its slab */
} lmcache4j_wire_copy_op;
#ifndef __cplusplus
_Static_assert(sizeof(lmcache4j_wire_copy_op) == LMCACHE4J_WIRE_COPY_OP_BYTES, "copy op layout");
#endif

/* ---------------------------------------------------------------- requests (client -> server) */

/*
 * The scope of a request: two strings, cache_salt then adapter, each "none" (NULL) or text; NULL
 * and "" are the same scope, as in lmcache4j_scope.
 */

/*
 * LOOKUP: string salt, string adapter, string pin_request_id (NULL: do not pin; "" is refused as
 * lmcache4j_lookup refuses it), i32[] tokens. RESULT values: [hit_tokens]. Pins are the
 * connection's own: another connection's request of the same id is another request, and the
 * connection's pins are released when it closes.
 */
#define LMCACHE4J_WIRE_LOOKUP 16
/* LOOKUP_TIERS: as LOOKUP. RESULT values: [hit_tokens, pool_tokens] (lmcache4j_lookup_tiers). */
#define LMCACHE4J_WIRE_LOOKUP_TIERS 17
/*
 * STORE: string salt, string adapter, u64 skip_leading, i32[] tokens, i64[] slot_mapping (the
 * same count as tokens). The server may send SLABs and one COPY (GATHER ops) first.
 * RESULT values: [stored_tokens].
 */
#define LMCACHE4J_WIRE_STORE 18
/* RETRIEVE: as STORE; the COPY's ops are SCATTERs. RESULT values: [loaded_tokens]. */
#define LMCACHE4J_WIRE_RETRIEVE 19
/* UNPIN: string request_id (not NULL, not ""). RESULT values: [chunks_unpinned]. */
#define LMCACHE4J_WIRE_UNPIN 20
/*
 * STATS: empty. RESULT values: the counters of lmcache4j_engine_stats in its order, from chunks
 * to pool_growth_wait_nanos (20 in version 1; a later server may send more: copy what fits).
 */
#define LMCACHE4J_WIRE_STATS 21
/* CONFIG_JSON: empty. RESULT text: the effective configuration (lmcache4j_config_json). */
#define LMCACHE4J_WIRE_CONFIG_JSON 22
/* METRICS_TEXT, METRICS_JSON: empty. RESULT text: the metrics (lmcache4j_metrics_text / _json). */
#define LMCACHE4J_WIRE_METRICS_TEXT 23
#define LMCACHE4J_WIRE_METRICS_JSON 24
/* COUNT_PROMPT: i64 prompt_tokens, i64 vllm_hit_tokens. RESULT values: []. */
#define LMCACHE4J_WIRE_COUNT_PROMPT 25
/* CLEAR: empty. Drops every chunk and every pin (of every client), as lmcache4j_clear. RESULT values: []. */
#define LMCACHE4J_WIRE_CLEAR 26
/* GOODBYE: empty. No answer: the server releases the connection's pins and closes it. */
#define LMCACHE4J_WIRE_GOODBYE 27

/* ---------------------------------------------------------------- KV events (version 2) */

/*
 * The server's engine is the node's cache: a chunk any client stored is one every client can hit.
 * So each connection that records KV events gets every event of the engine from the moment it
 * started recording, in a bounded queue of its own (events it does not take are dropped and
 * reported as one LOST record, as embedded); a connection that ends stops recording.
 *
 * RECORD_KV_EVENTS: i32 on (0: stop, dropping what this connection has not taken). RESULT values: [].
 */
#define LMCACHE4J_WIRE_RECORD_KV_EVENTS 28
/*
 * TAKE_KV_EVENTS: u64 capacity (bytes). RESULT values: [bytes, then the records of
 * lmcache4j_take_kv_events that fit whole in capacity, packed 8 bytes to a value in order (the
 * values' little-endian bytes are the records' bytes; the last value padded with zeros)]. A
 * capacity too small for the next record alone: ERROR LMCACHE4J_ERR_INVALID_ARGUMENT, nothing taken.
 */
#define LMCACHE4J_WIRE_TAKE_KV_EVENTS 29

/*
 * A prefetch (lmcache4j_prefetch) runs on the server's engine and belongs to its connection: the
 * server numbers a connection's prefetches and layer-by-layer operations 1, 2, 3... (never reused
 * on that connection), and a connection that ends cancels and closes its prefetches (their pins
 * are the connection's, released with it). A handle the connection has not open is refused with
 * LMCACHE4J_ERR_INVALID_ARGUMENT; the client tells a closed handle from a wrong one itself.
 *
 * PREFETCH: as LOOKUP (salt, adapter, pin_request_id, i32[] tokens). RESULT values: [handle].
 */
#define LMCACHE4J_WIRE_PREFETCH 32
/* PREFETCH_STATE: u64 handle. RESULT values: [state (LMCACHE4J_PREFETCH_*), ready_tokens]. */
#define LMCACHE4J_WIRE_PREFETCH_STATE 33
/*
 * PREFETCH_AWAIT: u64 handle, i64 timeout_ms (>= 0). RESULT values: [finished (1 or 0)]. The server
 * answers at the latest when timeout_ms has passed; a client splits a long wait into short ones,
 * so that its connection's one request slot is never held much longer than a lookup's turn.
 */
#define LMCACHE4J_WIRE_PREFETCH_AWAIT 34
/* PREFETCH_CANCEL: u64 handle. RESULT values: [cancelled (1 or 0)]. */
#define LMCACHE4J_WIRE_PREFETCH_CANCEL 35
/* PREFETCH_CLOSE: u64 handle (cancelled if it runs, then forgotten). RESULT values: []. */
#define LMCACHE4J_WIRE_PREFETCH_CLOSE 36

/* ---------------------------------------------------------------- layer by layer (version 2) */

/*
 * STORE_LAYERS, RETRIEVE_LAYERS: as STORE (salt, adapter, u64 skip_leading, i32[] tokens, i64[]
 * slot_mapping). The engine plans the operation (a retrieve brings its prefix into the pool); no
 * COPY yet. RESULT values: [handle, tokens]. The client keeps the slot mapping: each COPY_LAYER's
 * ops index the arrays of this request.
 */
#define LMCACHE4J_WIRE_STORE_LAYERS 40
#define LMCACHE4J_WIRE_RETRIEVE_LAYERS 41
/*
 * COPY_LAYER: u64 handle, i32 layer. The server may send SLABs and one COPY whose ops carry that
 * layer (GATHERs for a store, SCATTERs for a retrieve). A store's chunks are published only when
 * every layer has landed; a failed COPY_DONE or a dropped connection gives the operation up
 * (nothing published, its pages freed). RESULT values: [].
 */
#define LMCACHE4J_WIRE_COPY_LAYER 42
/* AWAIT_LAYER: u64 handle, i32 layer (host caches: only checked, the copies have landed). RESULT values: []. */
#define LMCACHE4J_WIRE_AWAIT_LAYER 43
/* CLOSE_LAYERS: u64 handle (given up if layers are missing). RESULT values: [layers_copied]. */
#define LMCACHE4J_WIRE_CLOSE_LAYERS 44

/* ---------------------------------------------------------------- device caches (CUDA IPC), 48 */
/* (version 2; a version 1 server answers it ERROR LMCACHE4J_ERR_UNSUPPORTED, and the client then
 * reports the same status.) */

/*
 * REGISTER_DEVICE_CACHES (client -> server): the client's paged caches in CUDA device memory,
 * sent by lmcache4j_register_kv_caches with a device, and again after every reconnect:
 *   i32 device           the CUDA device ordinal of the caches (the server opens them on its own
 *                        device of that ordinal: both processes must see the same devices)
 *   u32 reserved         0
 *   lmcache4j_wire_device_layer[] layers   one per layer, in layer order (the layout's num_layers)
 * Each layer: the IPC handle of the allocation that holds it (cuIpcGetMemHandle of the
 * allocation's base, from cuMemGetAddressRange) and the layer cache's byte offset in it. The
 * server opens each handle (cuIpcOpenMemHandle), checks every layer fits its allocation for the
 * client's layout (HELLO's num_blocks), and from then on runs this connection's STOREs and
 * RETRIEVEs itself with the CUDA transfer, between the opened caches and the pool (no SLAB, no
 * COPY). It answers each such request only once its copies have landed (it synchronizes its own
 * stream): the client must have finished writing the KV a STORE reads before sending it (it
 * synchronizes the caller's stream first), and may read what a RETRIEVE wrote once the RESULT
 * came. The handles are closed when the connection ends, or when caches are registered again;
 * no layers at all (device -1) means the client's caches are host memory again.
 * RESULT values: []. A handle the driver refuses, a layer outside its allocation, or a server
 * without CUDA: ERROR (LMCACHE4J_ERR_INVALID_ARGUMENT, _UNSUPPORTED) naming the layer and the
 * driver's error, and the connection keeps its earlier caches.
 */
#define LMCACHE4J_WIRE_REGISTER_DEVICE_CACHES 48
#define LMCACHE4J_WIRE_IPC_HANDLE_BYTES 64
#define LMCACHE4J_WIRE_DEVICE_LAYER_BYTES 80

/* One layer of REGISTER_DEVICE_CACHES, as it lies on the wire. */
typedef struct lmcache4j_wire_device_layer {
    unsigned char ipc_handle[LMCACHE4J_WIRE_IPC_HANDLE_BYTES]; /* CUipcMemHandle of the allocation */
    uint64_t offset;   /* the layer cache's first byte, from the allocation's base */
    uint64_t bytes;    /* the allocation's size (cuMemGetAddressRange), for the server's check */
} lmcache4j_wire_device_layer;
#ifndef __cplusplus
_Static_assert(sizeof(lmcache4j_wire_device_layer) == LMCACHE4J_WIRE_DEVICE_LAYER_BYTES, "device layer layout");
#endif

/*
 * Numbers kept for later versions (the server answers them ERROR LMCACHE4J_ERR_UNSUPPORTED, and so
 * should a client that has no message for the call): 49-63.
 */
#define LMCACHE4J_WIRE_RESERVED_FIRST 49
#define LMCACHE4J_WIRE_RESERVED_LAST 63

#endif /* LMCACHE4J_WIRE_H */
