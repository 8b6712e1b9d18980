/*
 * LMCache4j C ABI, version 4 (version 1 plus device caches' streams in version 2:
 * lmcache4j_store_on_stream, lmcache4j_retrieve_on_stream, lmcache4j_wait_transfers; plus KV
 * events for routers in version 3: lmcache4j_record_kv_events, lmcache4j_take_kv_events; plus
 * prefetch from the disk and remote tiers in version 4: lmcache4j_prefetch and its handle's calls,
 * and lmcache4j_lookup_tiers;
 * every earlier call still answers).
 *
 * liblmcache4j.so lets a serving engine written in C, C++ or Python (through ctypes) use the
 * LMCache4j engine in its own process. The library starts a JVM on first use (or joins the one
 * already in the process), finds the engine jar, and forwards each call to it.
 *
 *   lmcache4j_layout layout = { sizeof layout, 32, 8, 128, "bfloat16", 16, 8192, "flash_attn" };
 *   lmcache4j_engine engine;
 *   if (lmcache4j_open(NULL, &layout, NULL, &engine) != LMCACHE4J_OK)
 *       fprintf(stderr, "%s\n", lmcache4j_last_error());
 *   lmcache4j_register_kv_caches(engine, layer_ptrs, 32, -1);   // host memory (a CUDA device id for GPU caches)
 *   lmcache4j_lookup(engine, NULL, tokens, n, "req-1", &hit);    // and pin for req-1
 *   lmcache4j_retrieve(engine, NULL, tokens, slots, n, 0, &loaded);
 *   lmcache4j_unpin(engine, "req-1", NULL);
 *   ... compute tokens [loaded, n) ...
 *   lmcache4j_store(engine, NULL, tokens, slots, n, 0, &stored);
 *   lmcache4j_close(engine);
 *
 * Contract
 *   - Every function returns an lmcache4j_status. On failure the calling thread's message is
 *     lmcache4j_last_error(); outputs are left untouched. Nothing is ever thrown or aborted.
 *   - Functions are thread-safe; any thread may call, and is attached to the JVM on its first
 *     call (and detached when it exits).
 *   - Arrays and strings are read during the call only; strings are UTF-8 and NUL-terminated.
 *   - An engine is a handle, not a pointer: after lmcache4j_close every call on it returns
 *     LMCACHE4J_ERR_CLOSED. Handles are never reused.
 *   - Registered paged caches must stay valid until the engine is closed, or until a later
 *     lmcache4j_register_kv_caches returns: it waits for the calls running on the old caches and
 *     for their device copies, so the old caches may be freed once it returns.
 *   - Device caches (CUDA): every store and retrieve is ordered with the caller's CUDA stream
 *     (the *_on_stream calls; the others use the legacy default stream, handle 0). The copies start
 *     after the work already queued on that stream, and the stream waits for them; the calls return
 *     once the copies are queued, without waiting for the device. lmcache4j_wait_transfers waits.
 *   - Structs begin with their size (set it to sizeof), so that later versions can grow them.
 *
 * Finding Java (first call only)
 *   LMCACHE4J_JAVA_HOME   a JDK >= 25 (else JAVA_HOME, else the newest JDK under /usr/lib/jvm)
 *   LMCACHE4J_JAR         the engine jar (else next to this library, else the source tree's
 *                         engine/target/lmcache4j-engine.jar); its dependencies are read from the
 *                         lib/ folder beside it
 *   LMCACHE4J_CLASSPATH   more class path entries, ':'-separated
 *   LMCACHE4J_JVM_OPTS    more JVM options, space-separated (e.g. -Xmx2g)
 *   LMCACHE4J_VERBOSE=1   print the JDK, class path and options used to stderr
 * A missing JDK or jar, or an option the JVM rejects, is LMCACHE4J_ERR_JVM. Some start-up failures
 * HotSpot treats as fatal (a heap it cannot commit, e.g. -Xms beyond memory): it then ends the
 * process itself, before the library can return.
 * The JVM always runs with -Xrs (it leaves SIGINT, SIGTERM, SIGHUP and SIGQUIT to the host) and
 * --enable-native-access=ALL-UNNAMED. A host that installs its own handlers for SIGSEGV, SIGBUS,
 * SIGFPE or SIGILL after the JVM started (Python's faulthandler, pytest) must preload the JDK's
 * libjsig.so (LD_PRELOAD=$JAVA_HOME/lib/libjsig.so), or the JVM crashes on its first safepoint.
 *
 * Client mode (docs/server.md): the engine of the node's `lmcache4j server` instead of one here
 *   lmcache4j.server      in options->settings (YAML or JSON, at any depth), unix:///PATH; an empty
 *                         value or null means "no server" even when the variable below is set
 *   LMCACHE4J_SERVER      unix:///PATH, when the settings do not name the key
 *                         (the key in the configuration file is read last)
 * lmcache4j_open then connects (an unreachable server is LMCACHE4J_ERR_STATE, a layout the server
 * refuses its status and message) and no JVM is loaded into this process. The pool is shared
 * memory that the library maps; it copies between the registered caches and pool pages itself.
 * The calls answer as the embedded engine's do, with these differences: device caches are
 * opened by the server from their CUDA IPC handles and copied there (docs/server.md; a store or
 * retrieve then waits for the caller's stream first and for the server's copies before it
 * returns); lmcache4j_serve_lookups is LMCACHE4J_ERR_UNSUPPORTED; KV events are those of the
 * node's cache (every client that records takes every event, whichever client caused it; after a
 * reconnect the first take reports one CLEARED record); pins, prefetches and layer-by-layer
 * operations belong to the engine's own connection (a prefetch await asks the server in slices of
 * 200 ms, letting the engine's other calls through between them). While the server is gone,
 * lookups answer 0, stores store 0 tokens, retrieves load 0, unpins unpin 0 and prompt counts are
 * dropped, all with LMCACHE4J_OK (logged once to stderr); a prefetch started then, or one whose
 * connection ended, is DONE with 0 tokens ready; a layered store or retrieve opened then has 0
 * tokens, and one whose connection ended stores nothing (its layers answer OK) or, for a retrieve
 * that promised tokens, fails its next lmcache4j_copy_layer with LMCACHE4J_ERR_STATE (those rows
 * were not loaded); stats, configuration, metrics and clear answer LMCACHE4J_ERR_STATE. A later call
 * reconnects (at most once a second) and says hello again. A server that does not answer within
 * LMCACHE4J_SERVER_TIMEOUT_MS (default 30000; 0: no limit) counts as gone.
 */
#ifndef LMCACHE4J_H
#define LMCACHE4J_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Versions only add: a program built against version N works with any library whose
 * lmcache4j_abi_version() is N or more (its symbols keep their LMCACHE4J_N versions). Check
 * ">= N", not "== N".
 */
#define LMCACHE4J_ABI_VERSION 5

/* lmcache4j_register_kv_caches' device: host memory, or "ask the driver" (a CUDA device id otherwise). */
#define LMCACHE4J_DEVICE_HOST (-1)
#define LMCACHE4J_DEVICE_AUTO (-2)

#if defined(__GNUC__)
#define LMCACHE4J_API __attribute__((visibility("default")))
#else
#define LMCACHE4J_API
#endif

/** Status of every call. */
typedef enum lmcache4j_status {
    LMCACHE4J_OK = 0,
    LMCACHE4J_ERR_INVALID_ARGUMENT = 1, /* a value passed is wrong; nothing changed */
    LMCACHE4J_ERR_STATE = 2,            /* a call out of order (e.g. store before registering caches), or the
                                           device refused a copy (out of memory, a sticky device fault) */
    LMCACHE4J_ERR_CLOSED = 3,           /* the engine was closed */
    LMCACHE4J_ERR_JVM = 4,              /* no JDK >= 25, no engine jar, or the JVM failed to start */
    LMCACHE4J_ERR_NO_MEMORY = 5,
    LMCACHE4J_ERR_UNSUPPORTED = 6,      /* not supported (e.g. a paged layout the engine cannot copy) */
    LMCACHE4J_ERR_INTERNAL = 7          /* a bug: the message says where */
} lmcache4j_status;

/** An open engine; 0 is never one. */
typedef uint64_t lmcache4j_engine;

/** The serving engine's paged KV cache, identical for every layer (see docs/architecture.md). */
typedef struct lmcache4j_layout {
    uint32_t struct_size;   /* sizeof(lmcache4j_layout) */
    int32_t num_layers;     /* layers, one paged cache each */
    int32_t num_kv_heads;   /* KV heads on this worker (1 for mla) */
    int32_t head_size;      /* elements per head (mla: the latent width, e.g. 576) */
    const char *dtype;      /* "float16", "bfloat16", "float32", "float8_e4m3fn", "float8_e5m2" */
    int32_t block_size;     /* tokens per block */
    int32_t num_blocks;     /* blocks per layer */
    const char *kv_format;  /* "flash_attn" [2,B,bs,H,D] | "blocks_first" [B,2,bs,H,D] | "mla" [B,bs,D] */
} lmcache4j_layout;

/** Optional settings of lmcache4j_open; NULL for the defaults shown. */
typedef struct lmcache4j_options {
    uint32_t struct_size;   /* sizeof(lmcache4j_options) */
    const char *settings;   /* YAML or JSON mapping of LMCache keys laid over the file or
                               environment, key by key (NULL: none), e.g. {"chunk_size": 256} */
    const char *model;      /* enters every key (NULL: "default") */
    int32_t world_size;     /* tensor-parallel size, enters every key (0: 1) */
    int32_t rank;           /* this worker's rank in it */
} lmcache4j_options;

/** The scope of a request's keys: chunks stored under one scope are invisible to all others. */
typedef struct lmcache4j_scope {
    const char *cache_salt; /* a tenant's salt (vLLM's cache_salt), NULL or "" for none */
    const char *adapter;    /* the LoRA adapter the KV was computed with, NULL or "" for none */
} lmcache4j_scope;

/** A snapshot of an engine's state and counters (see EngineStats in the Java API). */
typedef struct lmcache4j_engine_stats {
    uint32_t struct_size;   /* in: sizeof(lmcache4j_engine_stats) */
    uint32_t fields;        /* out: how many of the counters below were written */
    uint64_t chunks, pages_in_use, capacity_pages, used_bytes, capacity_bytes, mapped_bytes;
    uint64_t leases, pins, evictions, store_skipped_chunks, forced_unpins;
    uint64_t lookup_requests, lookup_tokens, lookup_hit_tokens;
    uint64_t store_requests, stored_tokens;
    uint64_t retrieve_requests, requested_tokens, retrieved_tokens;
    uint64_t pool_growth_wait_nanos;
} lmcache4j_engine_stats;

/** LMCACHE4J_ABI_VERSION of the library; needs no JVM. */
LMCACHE4J_API int lmcache4j_abi_version(void);

/** A constant name for a status, such as "LMCACHE4J_ERR_CLOSED"; needs no JVM. */
LMCACHE4J_API const char *lmcache4j_status_name(int status);

/**
 * The message of this thread's last failed call ("" if none); valid until this thread's next call.
 */
LMCACHE4J_API const char *lmcache4j_last_error(void);

/**
 * Opens an engine. config_path names an LMCache YAML or JSON file; NULL reads LMCACHE_CONFIG_FILE,
 * else the LMCACHE_* variables, else the defaults. options may be NULL.
 */
LMCACHE4J_API int lmcache4j_open(const char *config_path, const lmcache4j_layout *layout,
                                 const lmcache4j_options *options, lmcache4j_engine *out_engine);

/**
 * Registers the paged caches: one address per layer, each holding the layout's bytes. device is
 * LMCACHE4J_DEVICE_HOST (-1) for host memory, a CUDA device id for device memory (copied by the
 * CUDA transfer; the engine's CPU pool is then page-locked for that device), or
 * LMCACHE4J_DEVICE_AUTO (-2) to let the driver say. A device that does not exist, caches on two
 * devices, a device that is not where the memory is, or device caches without a CUDA driver are
 * LMCACHE4J_ERR_INVALID_ARGUMENT, and nothing is registered.
 */
LMCACHE4J_API int lmcache4j_register_kv_caches(lmcache4j_engine engine, const uint64_t *layer_addresses,
                                               int32_t num_layers, int32_t device);

/**
 * How many leading tokens are cached (into *out_hit_tokens). With a request id, the hit chunks
 * are also pinned for it until lmcache4j_unpin, its next lookup, or pin_timeout_sec.
 * scope may be NULL.
 */
LMCACHE4J_API int lmcache4j_lookup(lmcache4j_engine engine, const lmcache4j_scope *scope,
                                   const int32_t *tokens, size_t num_tokens, const char *pin_request_id,
                                   int64_t *out_hit_tokens);

/**
 * Stores the chunks of tokens not cached yet, reading their KV at slot_mapping (slot = block *
 * block_size + offset, -1 = none). The first skip_leading tokens (a multiple of chunk_size) are
 * known to be cached and are not read. *out_stored: the tokens stored.
 */
LMCACHE4J_API int lmcache4j_store(lmcache4j_engine engine, const lmcache4j_scope *scope,
                                  const int32_t *tokens, const int64_t *slot_mapping, size_t num_tokens,
                                  size_t skip_leading, int64_t *out_stored);

/**
 * Loads the longest cached prefix of tokens into the paged caches at slot_mapping, except its
 * first skip_leading tokens. *out_loaded: the tokens loaded beyond skip_leading.
 */
LMCACHE4J_API int lmcache4j_retrieve(lmcache4j_engine engine, const lmcache4j_scope *scope,
                                     const int32_t *tokens, const int64_t *slot_mapping, size_t num_tokens,
                                     size_t skip_leading, int64_t *out_loaded);

/**
 * lmcache4j_store and lmcache4j_retrieve ordered with the caller's CUDA stream (a CUstream value,
 * e.g. torch.cuda.current_stream().cuda_stream; 0 for the legacy default stream). On device
 * caches the copies run after the work already queued on cuda_stream, and cuda_stream cannot run
 * past them until they have landed; the call itself does not wait for the device. A stream of
 * another context than the caches', or one that is not a live stream, is
 * LMCACHE4J_ERR_INVALID_ARGUMENT. Host caches take only 0.
 */
LMCACHE4J_API int lmcache4j_store_on_stream(lmcache4j_engine engine, const lmcache4j_scope *scope,
                                            const int32_t *tokens, const int64_t *slot_mapping, size_t num_tokens,
                                            size_t skip_leading, uint64_t cuda_stream, int64_t *out_stored);

LMCACHE4J_API int lmcache4j_retrieve_on_stream(lmcache4j_engine engine, const lmcache4j_scope *scope,
                                               const int32_t *tokens, const int64_t *slot_mapping, size_t num_tokens,
                                               size_t skip_leading, uint64_t cuda_stream, int64_t *out_loaded);

/**
 * Returns once every device copy queued so far has landed and what waited for it has run (stored
 * chunks are then served, the pool pages a retrieve read are released). Host copies end in their
 * call; then this returns at once. Copies that failed on the device are not an error here: their
 * chunks are not served, and the failure is logged.
 */
LMCACHE4J_API int lmcache4j_wait_transfers(lmcache4j_engine engine);

/** Releases the pins of a request; *out_unpinned (may be NULL): the chunks that were pinned. */
LMCACHE4J_API int lmcache4j_unpin(lmcache4j_engine engine, const char *request_id, int64_t *out_unpinned);

/** Fills *out; set out->struct_size first. */
LMCACHE4J_API int lmcache4j_stats(lmcache4j_engine engine, lmcache4j_engine_stats *out);

/**
 * The engine's effective configuration as one line of JSON with LMCache's key names, written into
 * buf (NUL-terminated, cut to fit); *out_length (may be NULL) gets its full length in bytes.
 */
LMCACHE4J_API int lmcache4j_config_json(lmcache4j_engine engine, char *buf, size_t capacity, size_t *out_length);

/**
 * Serves lookups for this engine on a Unix socket at socket_path, so that another process (vLLM's
 * scheduler) can ask what it holds. The socket's directory must exist, belong to this user and be
 * private to it (mode 0700); the socket is made 0600. It closes with the engine.
 */
LMCACHE4J_API int lmcache4j_serve_lookups(lmcache4j_engine engine, const char *socket_path);

/* The kinds of lmcache4j_take_kv_events' records. */
#define LMCACHE4J_KV_EVENT_STORED 1   /* a chunk became servable in the CPU tier (stored or promoted) */
#define LMCACHE4J_KV_EVENT_REMOVED 2  /* a servable chunk left the CPU tier (evicted, spilled, dropped) */
#define LMCACHE4J_KV_EVENT_CLEARED 3  /* every chunk was dropped */
#define LMCACHE4J_KV_EVENT_LOST 4     /* n events are missing here: nobody took them and the queue was full */
#define LMCACHE4J_KV_EVENT_HEADER_BYTES 40

/**
 * Starts (on != 0) or stops recording KV events: what the CPU tier gains and loses, for a KV-aware
 * router (vLLM's BlockStored / BlockRemoved / AllBlocksCleared). Off when an engine opens; stopping
 * drops the events not taken yet. The queue is bounded: events nobody takes are dropped, counted,
 * and reported as one LMCACHE4J_KV_EVENT_LOST record where they were.
 */
LMCACHE4J_API int lmcache4j_record_kv_events(lmcache4j_engine engine, int32_t on);

/**
 * Moves the oldest KV events that fit whole into buf, in the order they happened; *out_length: the
 * bytes written (0 when none are waiting). Call again until it is 0. Each record is a 40-byte
 * header and, for a stored chunk, its token ids (all integers little-endian):
 *   uint8 kind; uint8 flags (bit 0: parent set); uint16 0; uint32 n;
 *   uint8 key[16]; uint8 parent[16]; int32 tokens[n] (stored only; lost: n is the count dropped)
 * A buffer too small for the next event alone is LMCACHE4J_ERR_INVALID_ARGUMENT, naming its size,
 * and nothing is taken: 40 + 4 * chunk_size bytes always suffice.
 */
LMCACHE4J_API int lmcache4j_take_kv_events(lmcache4j_engine engine, void *buf, size_t capacity, size_t *out_length);

/**
 * The engine's metrics (LMCache's names, kinds and buckets; version 3), written into buf as
 * lmcache4j_config_json writes: as JSON (what src/lmcache4j/metrics.py mirrors into
 * prometheus_client) or in the Prometheus text format (what the replay's endpoint serves).
 */
LMCACHE4J_API int lmcache4j_metrics_json(lmcache4j_engine engine, char *buf, size_t capacity, size_t *out_length);
LMCACHE4J_API int lmcache4j_metrics_text(lmcache4j_engine engine, char *buf, size_t capacity, size_t *out_length);

/**
 * Counts a request's prompt tokens and the tokens of it the serving engine's own prefix cache held
 * (LMCache's num_prompt_tokens and num_vllm_hit_tokens; version 3). Both >= 0, the hit at most the
 * prompt, both under 2^31.
 */
LMCACHE4J_API int lmcache4j_count_prompt(lmcache4j_engine engine, int64_t prompt_tokens, int64_t vllm_hit_tokens);

/**
 * lmcache4j_lookup answering also where the hit lies (version 4): *out_pool_tokens (may be NULL) gets
 * how many of the *out_hit_tokens leading tokens the CPU pool holds; the rest must be read from
 * disk or Redis first. Only the pool's part is pinned for pin_request_id.
 */
LMCACHE4J_API int lmcache4j_lookup_tiers(lmcache4j_engine engine, const lmcache4j_scope *scope, const int32_t *tokens,
                                         size_t num_tokens, const char *pin_request_id, int64_t *out_hit_tokens,
                                         int64_t *out_pool_tokens);

/*
 * Prefetch (version 4): bring a prompt's prefix from the disk and remote tiers into the CPU pool in
 * the background, so that a later retrieve copies it from memory (docs/architecture.md,
 * "Prefetch"). A prefetch is a handle of its engine, not a pointer: handles are never reused;
 * after lmcache4j_prefetch_close (or the engine's close) calls on it return LMCACHE4J_ERR_CLOSED,
 * and a number that was never a prefetch of this engine is LMCACHE4J_ERR_INVALID_ARGUMENT. Every
 * prefetch must be closed; closing one that runs cancels it. A cancelled prefetch pins nothing.
 */
typedef uint64_t lmcache4j_prefetch_handle;

/* lmcache4j_prefetch_state's states: the last three are final. */
#define LMCACHE4J_PREFETCH_QUEUED 0    /* waiting for one of prefetch_max_concurrency workers; holds no page */
#define LMCACHE4J_PREFETCH_RUNNING 1   /* reading records into the pool */
#define LMCACHE4J_PREFETCH_DONE 2      /* finished: its ready tokens were in the pool when it did */
#define LMCACHE4J_PREFETCH_CANCELLED 3 /* stopped by a cancel, a close or the engine's close */
#define LMCACHE4J_PREFETCH_FAILED 4    /* ended by an unexpected error (logged) */

/**
 * Starts a prefetch of tokens' longest cached prefix (into *out_prefetch), and returns at once; a
 * prompt the pool already holds, or an engine without a lower tier, has finished on return. With
 * a request id, the prefix is pinned for it once it is in the pool, replacing its earlier pins, as
 * lmcache4j_lookup pins (until lmcache4j_unpin, a later pin, or pin_timeout_sec). scope may be NULL.
 */
LMCACHE4J_API int lmcache4j_prefetch(lmcache4j_engine engine, const lmcache4j_scope *scope, const int32_t *tokens,
                                     size_t num_tokens, const char *pin_request_id, lmcache4j_prefetch_handle *out_prefetch);

/**
 * Where a prefetch is (*out_state, one of LMCACHE4J_PREFETCH_*) and how many leading tokens of the
 * prompt were in the pool at its last step (*out_ready_tokens): those it found, then, once it has
 * finished, those it brought in. Either output may be NULL.
 */
LMCACHE4J_API int lmcache4j_prefetch_state(lmcache4j_engine engine, lmcache4j_prefetch_handle prefetch, int32_t *out_state,
                                           int64_t *out_ready_tokens);

/** Waits up to timeout_ms (>= 0; INT64_MAX: as long as it takes) for the prefetch to finish; *out_finished (may be NULL): 1 if it has, else 0. */
LMCACHE4J_API int lmcache4j_prefetch_await(lmcache4j_engine engine, lmcache4j_prefetch_handle prefetch, int64_t timeout_ms,
                                           int32_t *out_finished);

/**
 * Stops the prefetch: a queued one never runs; a running one stops at its next step (reads already
 * sent finish first, and what verified stays cached, unpinned). *out_cancelled (may be NULL): 1 if
 * this call stopped it, 0 if it had finished. Never blocks.
 */
LMCACHE4J_API int lmcache4j_prefetch_cancel(lmcache4j_engine engine, lmcache4j_prefetch_handle prefetch, int32_t *out_cancelled);

/** Cancels the prefetch if it runs and frees its handle; the handle is dead after. Never blocks. */
LMCACHE4J_API int lmcache4j_prefetch_close(lmcache4j_engine engine, lmcache4j_prefetch_handle prefetch);
/*
 * Layer by layer (version 5): a store or retrieve copied one layer at a time (LMCache's
 * use_layerwise), so that layer i's copy overlaps the compute of the layers after it.
 *
 *   lmcache4j_layered op;  int64_t tokens, copied;
 *   lmcache4j_store_layers(engine, NULL, tokens_ids, slots, n, 0, stream, &op, &tokens);
 *   for (int32_t l = 0; l < num_layers; l++) { ...compute layer l...; lmcache4j_copy_layer(engine, op, l); }
 *   lmcache4j_close_layers(engine, op, &copied);   // copied == num_layers: the chunks are served
 *                                                  // once the copies land (lmcache4j_wait_transfers)
 * A retrieve copies one layer ahead: lmcache4j_copy_layer(l + 1), then lmcache4j_await_layer(l)
 * before layer l's attention is queued, so that layer l+1's copy runs beside it on the GPU.
 */

/** A layer-by-layer store or retrieve of one engine; 0 is never one. */
typedef uint64_t lmcache4j_layered;

/**
 * Plans a store as lmcache4j_store_on_stream does (*out_tokens: the tokens it will store) and
 * returns it as *out_op, for its layers to be copied with lmcache4j_copy_layer. Its chunks are
 * served only once every layer has been copied and has landed. tokens and slot_mapping are copied.
 */
LMCACHE4J_API int lmcache4j_store_layers(lmcache4j_engine engine, const lmcache4j_scope *scope,
                                         const int32_t *tokens, const int64_t *slot_mapping, size_t num_tokens,
                                         size_t skip_leading, uint64_t cuda_stream, lmcache4j_layered *out_op,
                                         int64_t *out_tokens);

/**
 * Brings the longest cached prefix into the engine's pool as lmcache4j_retrieve_on_stream does
 * (*out_tokens: the tokens beyond skip_leading it will load) and returns it as *out_op, for its
 * layers to be copied into the caches with lmcache4j_copy_layer.
 */
LMCACHE4J_API int lmcache4j_retrieve_layers(lmcache4j_engine engine, const lmcache4j_scope *scope,
                                            const int32_t *tokens, const int64_t *slot_mapping, size_t num_tokens,
                                            size_t skip_leading, uint64_t cuda_stream, lmcache4j_layered *out_op,
                                            int64_t *out_tokens);

/**
 * Copies layer `layer` of a layered operation: a store reads it out of the caches, a retrieve
 * writes it in, after the work already queued on the operation's stream. Layers go 0, 1, 2… each once: another layer
 * is LMCACHE4J_ERR_INVALID_ARGUMENT and changes nothing. A copy that fails, caches registered
 * anew since the operation began, or a closed engine give the operation up (LMCACHE4J_ERR_STATE):
 * a store then stores nothing, a retrieve leaves only the layers copied.
 */
LMCACHE4J_API int lmcache4j_copy_layer(lmcache4j_engine engine, lmcache4j_layered op, int32_t layer);

/**
 * lmcache4j_copy_layer queues a layer's copies after the work already on the stream but does not
 * make the stream wait for them: this does. The work queued on the stream after it (that layer's
 * attention) runs after the layer's copies; lmcache4j_close_layers waits for every layer not
 * awaited. Host caches: the copies end in their call, nothing to wait for. A layer not copied yet
 * is LMCACHE4J_ERR_INVALID_ARGUMENT.
 */
LMCACHE4J_API int lmcache4j_await_layer(lmcache4j_engine engine, lmcache4j_layered op, int32_t layer);

/**
 * Ends a layered operation; the handle is dead after. One closed before its last layer is given
 * up (a store stores nothing). *out_layers_copied (may be NULL): the layers it copied.
 */
LMCACHE4J_API int lmcache4j_close_layers(lmcache4j_engine engine, lmcache4j_layered op, int64_t *out_layers_copied);

/** Drops every chunk and pin. */
LMCACHE4J_API int lmcache4j_clear(lmcache4j_engine engine);

/** Closes the engine and frees its pool; the handle is dead after. */
LMCACHE4J_API int lmcache4j_close(lmcache4j_engine engine);

#ifdef __cplusplus
}
#endif

#endif /* LMCACHE4J_H */
