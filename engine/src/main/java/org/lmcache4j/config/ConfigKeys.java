package org.lmcache4j.config;

import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.function.BiConsumer;
import java.util.function.Function;
import java.util.stream.Collectors;
import org.lmcache4j.EngineConfig;
import org.lmcache4j.EngineConfig.Builder;

/**
 * The table of configuration keys: those LMCache4j implements (in the order {@code describe} lists
 * them), LMCache keys it accepts but ignores, and LMCACHE_* variables that are not keys at all.
 */
final class ConfigKeys {

    static final List<ConfigKey<?>> SUPPORTED = List.of(
            key("chunk_size", "int", "tokens per chunk",
                    ConfigValues::toInt, Builder::chunkSize, EngineConfig::chunkSize),
            key("local_cpu", "bool", "keep chunks in the CPU pool",
                    ConfigValues::toBool, Builder::localCpu, EngineConfig::localCpu),
            key("max_local_cpu_size", "GB", "size of the CPU pool",
                    ConfigValues::toGigabytes, Builder::maxLocalCpuSizeGb, EngineConfig::maxLocalCpuSizeGb),
            key("local_disk", "path", "directory of the disk tier (a path or file:// URL); unset: no disk tier",
                    ConfigValues::toDiskPath, Builder::localDisk, c -> c.localDisk().orElse(null)),
            key("max_local_disk_size", "GB", "cap of the disk tier",
                    ConfigValues::toGigabytes, Builder::maxLocalDiskSizeGb, EngineConfig::maxLocalDiskSizeGb),
            key("remote_url", "URL", "remote tier (redis://, rediss://, redis-cluster://...); unset: none",
                    ConfigValues::toUrl, Builder::remoteUrl, c -> c.remoteUrl().orElse(null)),
            key("remote_serde", "string", "serializer of the remote tier",
                    ConfigValues::toOptionalText, Builder::remoteSerde, EngineConfig::remoteSerde),
            key("save_unfull_chunk", "bool", "store a prompt's trailing partial chunk",
                    ConfigValues::toBool, Builder::saveUnfullChunk, EngineConfig::saveUnfullChunk),
            key("save_decode_cache", "bool", "store the KV of decoded tokens too",
                    ConfigValues::toBool, Builder::saveDecodeCache, EngineConfig::saveDecodeCache),
            key("cache_policy", "string", "eviction policy of the CPU pool",
                    ConfigValues::toText, Builder::cachePolicy, EngineConfig::cachePolicy),
            key("pin_timeout_sec", "int", "seconds after which a lookup's pins expire",
                    ConfigValues::toInt, Builder::pinTimeoutSec, EngineConfig::pinTimeoutSec),
            key("lookup_timeout_ms", "int", "time limit of a lookup, in milliseconds",
                    ConfigValues::toInt, Builder::lookupTimeoutMs, EngineConfig::lookupTimeoutMs),
            key("blocking_timeout_secs", "int", "time limit of a blocking tier operation, in seconds",
                    ConfigValues::toInt, Builder::blockingTimeoutSecs, EngineConfig::blockingTimeoutSecs),
            key("min_retrieve_tokens", "int", "a hit shorter than this is not loaded",
                    ConfigValues::toInt, Builder::minRetrieveTokens, EngineConfig::minRetrieveTokens),
            key("lmcache_instance_id", "string", "name of this instance",
                    ConfigValues::toOptionalText, Builder::instanceId, EngineConfig::instanceId),
            key("extra_config", "map", "free-form settings, passed through",
                    ConfigValues::toMap, Builder::extraConfig, EngineConfig::extraConfig));

    private static final Map<String, ConfigKey<?>> BY_NAME =
            SUPPORTED.stream().collect(Collectors.toUnmodifiableMap(ConfigKey::name, k -> k));

    /**
     * LMCache keys (current and deprecated, as of its 2025-2026 sources) for features LMCache4j does
     * not have: accepted so that an LMCache file loads, and warned about when they turn something on.
     */
    static final Set<String> UNSUPPORTED = Set.of(
            // memory and storage
            "local_cpu_use_hugepages", "reserve_local_cpu_size", "local_disk_path_sharding",
            "enable_lazy_memory_allocator", "lazy_memory_initial_ratio", "lazy_memory_expand_trigger_ratio",
            "lazy_memory_step_ratio", "lazy_memory_safe_size", "numa_mode", "pin_check_interval_sec",
            "gds_path", "gds_path_sharding", "gds_buffer_size", "use_gds", "gds_backend", "cufile_buffer_size",
            "weka_path", "maru_path", "maru_pool_size", "storage_plugins", "remote_storage_plugins",
            "external_backends", "runtime_plugin_locations", "plugin_locations", "audit_actual_remote_url",
            "retrieve_locations", "store_location", "cost_aware_half_life_seconds", "cost_aware_ewma_alpha",
            "priority_limit", "hit_miss_ratio",
            // pipelining, hashing, blending
            "use_layerwise", "enable_async_loading", "pre_caching_hash_algorithm", "use_gpu_connector_v3",
            "enable_blending", "blend_recompute_ratio", "blend_recompute_ratios", "blend_thresholds",
            "blend_check_layers", "blend_min_tokens", "blend_special_str",
            // controller, peer-to-peer, lookup service
            "enable_controller", "controller_url", "controller_pull_url", "controller_reply_url",
            "lmcache_worker_port", "lmcache_worker_ports", "lmcache_worker_ids",
            "lmcache_worker_heartbeat_delay_time", "lmcache_worker_heartbeat_time",
            "enable_p2p", "p2p_host", "p2p_init_ports", "p2p_lookup_ports", "lookup_url", "distributed_url",
            "transfer_channel", "external_lookup_client", "lookup_server_worker_ids",
            "enable_scheduler_bypass_lookup", "mp_host", "mp_port",
            // not an LMCache key, but the production-stack chart sets LMCACHE_WORKER_PORT with the controller
            "worker_port",
            // prefill/decode disaggregation and NIXL
            "enable_pd", "pd_role", "pd_buffer_size", "pd_buffer_device", "pd_peer_host", "pd_peer_init_port",
            "pd_peer_alloc_port", "pd_peer_query_port", "pd_proxy_host", "pd_proxy_port",
            "pd_allocation_timeout_sec", "pd_shutdown_timeout_sec", "pd_condition_poll_interval_sec",
            "pd_max_prefill_len", "pd_backend_mode", "pd_skip_proxy_notification", "pd_bidirectional",
            "enable_nixl", "enable_xpyd", "nixl_role", "nixl_receiver_host", "nixl_receiver_port",
            "nixl_peer_port", "nixl_buffer_size", "nixl_buffer_device", "nixl_enable_gc", "nixl_backends",
            "nixl_peer_host", "nixl_peer_init_port", "nixl_peer_alloc_port", "nixl_proxy_host",
            "nixl_proxy_port",
            // services, statistics and the rest
            "internal_api_server_enabled", "internal_api_server_host", "internal_api_server_port_start",
            "internal_api_server_include_index_list", "internal_api_server_socket_path_prefix",
            "enable_chunk_statistics", "chunk_statistics_auto_start_statistics",
            "chunk_statistics_auto_exit_timeout_hours", "chunk_statistics_auto_exit_target_unique_chunks",
            "chunk_statistics_strategy", "enable_kv_events", "remote_config_url", "app_id",
            "enable_hidden_state_cache", "max_hidden_state_cpu_size", "hidden_state_layers",
            "hidden_states_retrieve_mode", "script_allowed_imports", "error_handling", "py_enable_gc");

    /**
     * LMCACHE_* variables that are not configuration keys and are accepted without a word: the
     * production-stack Helm chart sets the first two on every LMCache pod, and LMCache's docs tell
     * users to set the usage-tracking ones.
     */
    static final Set<String> PROCESS_ENV = Set.of(
            "LMCACHE_USE_EXPERIMENTAL", "LMCACHE_LOG_LEVEL", "LMCACHE_TRACK_USAGE", "LMCACHE_USAGE_TRACK_URL");

    private ConfigKeys() {
    }

    static Optional<ConfigKey<?>> find(String name) {
        return Optional.ofNullable(BY_NAME.get(name));
    }

    private static <T> ConfigKey<T> key(String name, String type, String description, Function<Object, T> parse,
                                        BiConsumer<Builder, T> set, Function<EngineConfig, Object> get) {
        return new ConfigKey<>(name, type, description, parse, set, get);
    }
}
