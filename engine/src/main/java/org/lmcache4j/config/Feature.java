package org.lmcache4j.config;

/**
 * An LMCache feature that LMCache4j does not have, as a refusal or a warning names it: what the
 * feature is, in LMCache's words, and what LMCache4j offers in its place. A configuration that
 * turns one of these on stops start-up ({@link ConfigRefusedException}); one that only tunes it
 * while it is off is warned about ({@link LmcacheKeys}).
 */
public enum Feature {
    P2P("peer-to-peer KV sharing between instances (LMCache's P2P backend)",
            "share chunks between instances through a remote tier that all of them read and write:"
                    + " remote_url: redis://host:port (or rediss://, redis-sentinel://, redis-cluster://)"),
    CONTROLLER("LMCache's cache controller (the lookup, move, clear and pin service that instances register with)",
            "nothing runs beside the engine: `lmcache4j info` and the lmcache:* Prometheus metrics show what it holds,"
                    + " and instances share chunks through remote_url: redis://host:port"),
    PD("prefill/decode disaggregation over NIXL (enable_pd, LMCache's PD backend)",
            "run the prefill instance with kv_role kv_producer and the decode instance with kv_role kv_consumer,"
                    + " both with the same remote_url: redis://host:port, so the decoder loads what the prefiller stored"),
    NIXL_STORAGE("the NIXL storage backend (extra_config.enable_nixl_storage)",
            "the disk tier (local_disk with max_local_disk_size) or a Redis remote tier (remote_url)"),
    GDS("the GPU Direct Storage (cuFile) tier (gds_path)",
            "the disk tier: local_disk with max_local_disk_size, read and written with O_DIRECT"
                    + " (extra_config.use_odirect, on by default)"),
    WEKA("the WekaFS GPU Direct Storage tier (weka_path)",
            "the disk tier on the WekaFS mount: local_disk: file:///mnt/weka/... with max_local_disk_size"),
    MARU("the Maru CXL shared-memory tier (maru_path)",
            "the CPU pool (max_local_cpu_size) and a Redis remote tier shared between instances (remote_url)"),
    STORAGE_PLUGINS("storage back ends loaded as plugins (storage_plugins, remote_storage_plugins)",
            "the built-in tiers: the CPU pool, the disk tier (local_disk) and Redis (remote_url)"),
    RUNTIME_PLUGINS("runtime plugins, scripts LMCache starts beside the engine (runtime_plugin_locations)",
            "run such scripts beside vLLM yourself; LMCache4j starts nothing but its engine"),
    BLENDING("CacheBlend, which reuses the KV of text that is not a prefix (enable_blending)",
            "prefix reuse: chunks are served when they continue a prompt's cached prefix"),
    PIPELINED_BACKEND("LMCache 0.1's pipelined retrieval (pipelined_backend)",
            "layer-by-layer loads and saves: use_layerwise: true"),
    HIDDEN_STATES("hidden-state caching for vLLM-Omni pipelines (enable_hidden_state_cache)",
            "nothing: LMCache4j caches KV only"),
    SPARSE_ATTENTION("LMCache's sparse-attention retrieval (enable_sparse_attention)",
            "nothing: LMCache4j serves every token of a cached prefix"),
    API_SERVER("LMCache's internal HTTP API server (internal_api_server_enabled)",
            "the lmcache:* metrics on vLLM's /metrics, and `lmcache4j info` for the configuration"),
    CHUNK_STATISTICS("chunk statistics (enable_chunk_statistics)",
            "the lmcache:* metrics (hits, stores, evictions, usage)"),
    REMOTE_CONFIG("configuration fetched from a remote service at start (remote_config_url)",
            "write every setting into the file or the LMCACHE_* variables, which LMCache4j reads alone"),
    EXTERNAL_LOOKUP("lookups answered by an external service (external_lookup_client)",
            "lookups answered by the engine itself, from its CPU, disk and remote tiers"),
    REMOTE_BACKEND("a remote tier that is not Redis",
            "remote_url: redis://, rediss://, redis-sentinel:// or redis-cluster:// (Redis or Valkey)"),
    // Features whose keys only warn: a refusal never names them.
    MP_SERVER("LMCache's multi-process server settings (mp_host, mp_port)", "one engine per vLLM worker process"),
    ENCODER_CACHE("LMCache's encoder cache (LMCACHE_EC_* variables, ec_* keys)", "nothing: KV only"),
    TUNING("a detail of LMCache's own implementation", "its own mechanism, see docs/configuration.md");

    private final String description;
    private final String instead;

    Feature(String description, String instead) {
        this.description = description;
        this.instead = instead;
    }

    /** What the feature is, in words. */
    public String description() {
        return description;
    }

    /** What LMCache4j offers in its place. */
    public String instead() {
        return instead;
    }
}
