package org.lmcache4j.config;

import static org.lmcache4j.config.Feature.API_SERVER;
import static org.lmcache4j.config.Feature.BLENDING;
import static org.lmcache4j.config.Feature.CHUNK_STATISTICS;
import static org.lmcache4j.config.Feature.CONTROLLER;
import static org.lmcache4j.config.Feature.EXTERNAL_LOOKUP;
import static org.lmcache4j.config.Feature.GDS;
import static org.lmcache4j.config.Feature.HIDDEN_STATES;
import static org.lmcache4j.config.Feature.MARU;
import static org.lmcache4j.config.Feature.MP_SERVER;
import static org.lmcache4j.config.Feature.P2P;
import static org.lmcache4j.config.Feature.PD;
import static org.lmcache4j.config.Feature.PIPELINED_BACKEND;
import static org.lmcache4j.config.Feature.REMOTE_CONFIG;
import static org.lmcache4j.config.Feature.RUNTIME_PLUGINS;
import static org.lmcache4j.config.Feature.SPARSE_ATTENTION;
import static org.lmcache4j.config.Feature.STORAGE_PLUGINS;
import static org.lmcache4j.config.Feature.TUNING;
import static org.lmcache4j.config.Feature.WEKA;

import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.Function;
import java.util.stream.Collectors;
import org.lmcache4j.config.LmcacheKey.Treatment;

/**
 * Every LMCache configuration key that LMCache4j does not implement one for one
 * ({@link ConfigKeys#SUPPORTED} holds those it does), with LMCache's default and LMCache4j's
 * treatment. Read from LMCache's key table, {@code lmcache/v1/config.py} of LMCache/LMCache's main
 * branch as stored in December 2026, plus the aliases and deprecated names it still maps, the
 * LMCache 0.1 keys its example files still use ({@code local_device}, {@code pipelined_backend},
 * ...) and the names the production-stack chart exported in older versions. The keys that turn a
 * feature on are {@link Treatment#REFUSED}; those that only tune an absent feature are
 * {@link Treatment#WARNED}. docs/configuration.md lists the same table, and a test checks that.
 */
final class LmcacheKeys {

    static final List<LmcacheKey> ALL = List.of(
            // memory: the CPU pool always grows lazily in huge-page-advised slabs
            equivalent("local_cpu_use_hugepages", false),
            equivalent("enable_lazy_memory_allocator", false),
            equivalent("lazy_memory_initial_ratio", 0.2),
            equivalent("lazy_memory_expand_trigger_ratio", 0.5),
            equivalent("lazy_memory_step_ratio", 0.1),
            equivalent("lazy_memory_safe_size", 0.0),
            warned("reserve_local_cpu_size", 0.0, TUNING),
            warned("numa_mode", null, TUNING),
            warned("pin_check_interval_sec", 30, TUNING),
            warned("py_enable_gc", true, TUNING),
            // keys and lookups: LMCache4j's chunk hash is portable and seedless, whatever is asked
            equivalent("pre_caching_hash_algorithm", "builtin"),
            warned("enable_scheduler_bypass_lookup", false, TUNING),
            warned("lookup_server_worker_ids", null, TUNING),
            warned("hit_miss_ratio", null, TUNING),
            warned("priority_limit", null, TUNING),
            warned("retrieve_locations", null, TUNING),
            warned("store_location", null, TUNING),
            warned("cost_aware_half_life_seconds", 60.0, TUNING),
            warned("cost_aware_ewma_alpha", 0.2, TUNING),
            warned("local_disk_path_sharding", "by_gpu", TUNING),
            warned("use_gpu_connector_v3", false, TUNING),
            warned("audit_actual_remote_url", null, TUNING),
            warned("error_handling", null, TUNING),
            warned("save_indexer_only_first_rank", null, TUNING),
            refused("external_lookup_client", null, EXTERNAL_LOOKUP),
            // LMCache 0.1 (local_device and max_local_cache_size are translated by LegacyDeviceKeys)
            equivalent("local_device", null),
            equivalent("max_local_cache_size", null),
            refused("pipelined_backend", false, PIPELINED_BACKEND),
            // pipelining and loading
            refused("enable_sparse_attention", false, SPARSE_ATTENTION),
            // blending
            refused("enable_blending", false, BLENDING),
            warned("blend_recompute_ratios", null, BLENDING),
            warned("blend_recompute_ratio", null, BLENDING),
            warned("blend_thresholds", null, BLENDING),
            warned("blend_check_layers", null, BLENDING),
            warned("blend_min_tokens", 256, BLENDING),
            warned("blend_special_str", " # # ", BLENDING),
            warned("blend_separator", "[BLEND_SEP]", BLENDING),
            warned("blend_add_special_in_precomp", false, BLENDING),
            // peer-to-peer
            refused("enable_p2p", false, P2P),
            warned("p2p_host", null, P2P),
            warned("p2p_init_ports", null, P2P),
            warned("p2p_lookup_ports", null, P2P),
            warned("transfer_channel", null, P2P),
            warned("lookup_url", null, P2P),
            warned("distributed_url", null, P2P),
            // controller: its URLs and ports are inert while enable_controller is off
            refused("enable_controller", false, CONTROLLER),
            warned("controller_pull_url", null, CONTROLLER),
            warned("controller_reply_url", null, CONTROLLER),
            warned("controller_url", null, CONTROLLER),
            warned("lmcache_worker_ports", null, CONTROLLER),
            warned("lmcache_worker_port", null, CONTROLLER),
            warned("worker_port", null, CONTROLLER),
            warned("lmcache_worker_ids", null, CONTROLLER),
            warned("lmcache_worker_heartbeat_delay_time", 10, CONTROLLER),
            warned("lmcache_worker_heartbeat_time", null, CONTROLLER),
            // prefill/decode disaggregation and NIXL (enable_xpyd and enable_nixl are older switches)
            refused("enable_pd", false, PD),
            refused("enable_xpyd", false, PD),
            refused("enable_nixl", false, PD),
            warned("pd_role", null, PD),
            warned("pd_buffer_size", null, PD),
            warned("pd_buffer_device", null, PD),
            warned("pd_peer_host", null, PD),
            warned("pd_peer_init_port", null, PD),
            warned("pd_peer_alloc_port", null, PD),
            warned("pd_peer_query_port", null, PD),
            warned("pd_proxy_host", null, PD),
            warned("pd_proxy_port", null, PD),
            warned("pd_allocation_timeout_sec", Double.POSITIVE_INFINITY, PD),
            warned("pd_shutdown_timeout_sec", 5.0, PD),
            warned("pd_condition_poll_interval_sec", 0.005, PD),
            warned("pd_max_prefill_len", 0, PD),
            warned("pd_backend_mode", "async", PD),
            warned("pd_skip_proxy_notification", false, PD),
            warned("pd_bidirectional", false, PD),
            warned("nixl_backends", null, PD),
            warned("nixl_buffer_size", null, PD),
            warned("nixl_buffer_device", null, PD),
            warned("nixl_role", null, PD),
            warned("nixl_receiver_host", null, PD),
            warned("nixl_receiver_port", null, PD),
            warned("nixl_peer_host", null, PD),
            warned("nixl_peer_port", null, PD),
            warned("nixl_peer_init_port", null, PD),
            warned("nixl_peer_alloc_port", null, PD),
            warned("nixl_proxy_host", null, PD),
            warned("nixl_proxy_port", null, PD),
            warned("nixl_enable_gc", null, PD),
            // storage back ends
            refused("gds_path", null, GDS),
            warned("gds_path_sharding", "by_gpu", GDS),
            warned("gds_buffer_size", null, GDS),
            warned("use_gds", true, GDS),
            warned("gds_backend", "cufile", GDS),
            warned("cufile_buffer_size", null, GDS),
            refused("weka_path", null, WEKA),
            refused("maru_path", null, MARU),
            warned("maru_pool_size", 4.0, MARU),
            refused("storage_plugins", null, STORAGE_PLUGINS),
            refused("remote_storage_plugins", null, STORAGE_PLUGINS),
            refused("external_backends", null, STORAGE_PLUGINS),
            refused("runtime_plugin_locations", null, RUNTIME_PLUGINS),
            refused("plugin_locations", null, RUNTIME_PLUGINS),
            warned("script_allowed_imports", null, RUNTIME_PLUGINS),
            // services beside the engine
            refused("internal_api_server_enabled", false, API_SERVER),
            warned("internal_api_server_host", "0.0.0.0", API_SERVER),
            warned("internal_api_server_port_start", 6999, API_SERVER),
            warned("internal_api_server_include_index_list", null, API_SERVER),
            warned("internal_api_server_socket_path_prefix", null, API_SERVER),
            refused("enable_chunk_statistics", false, CHUNK_STATISTICS),
            warned("chunk_statistics_auto_start_statistics", false, CHUNK_STATISTICS),
            warned("chunk_statistics_auto_exit_timeout_hours", 0.0, CHUNK_STATISTICS),
            warned("chunk_statistics_auto_exit_target_unique_chunks", 0, CHUNK_STATISTICS),
            warned("chunk_statistics_strategy", "memory_bloom_filter", CHUNK_STATISTICS),
            refused("remote_config_url", null, REMOTE_CONFIG),
            warned("app_id", null, REMOTE_CONFIG),
            warned("mp_host", null, MP_SERVER),
            warned("mp_port", 5555, MP_SERVER),
            refused("enable_hidden_state_cache", false, HIDDEN_STATES),
            warned("max_hidden_state_cpu_size", 2.0, HIDDEN_STATES),
            warned("hidden_state_layers", null, HIDDEN_STATES),
            warned("hidden_states_retrieve_mode", "prefix_strict", HIDDEN_STATES));

    private static final Map<String, LmcacheKey> BY_NAME =
            ALL.stream().collect(Collectors.toUnmodifiableMap(LmcacheKey::name, Function.identity()));

    private LmcacheKeys() {
    }

    static Optional<LmcacheKey> find(String name) {
        return Optional.ofNullable(BY_NAME.get(name));
    }

    private static LmcacheKey equivalent(String name, Object lmcacheDefault) {
        return new LmcacheKey(name, lmcacheDefault, Treatment.EQUIVALENT, TUNING);
    }

    private static LmcacheKey refused(String name, Object lmcacheDefault, Feature feature) {
        return new LmcacheKey(name, lmcacheDefault, Treatment.REFUSED, feature);
    }

    private static LmcacheKey warned(String name, Object lmcacheDefault, Feature feature) {
        return new LmcacheKey(name, lmcacheDefault, Treatment.WARNED, feature);
    }
}
