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
 * The table of configuration keys LMCache4j implements (in the order {@code describe} lists them),
 * and the LMCACHE_* variables that are not keys at all. LMCache's other keys, and what LMCache4j
 * does with each, are in {@link LmcacheKeys}.
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
            key("enable_kv_events", "bool", "report the CPU tier's chunks as KV events when vLLM publishes them",
                    ConfigValues::toBool, Builder::enableKvEvents, EngineConfig::enableKvEvents),
            key("enable_async_loading", "bool", "the vLLM connector loads hits in the background (docs/vllm.md)",
                    ConfigValues::toBool, Builder::enableAsyncLoading, EngineConfig::enableAsyncLoading),
            key("use_layerwise", "bool", "the vLLM connector stores and loads layer by layer",
                    ConfigValues::toBool, Builder::useLayerwise, EngineConfig::useLayerwise),
            key("extra_config", "map", "free-form settings, passed through",
                    ConfigValues::toMap, Builder::extraConfig, EngineConfig::extraConfig));

    private static final Map<String, ConfigKey<?>> BY_NAME =
            SUPPORTED.stream().collect(Collectors.toUnmodifiableMap(ConfigKey::name, k -> k));

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
