package org.lmcache4j;

import java.util.Locale;
import java.util.Map;
import java.util.Optional;

/**
 * The engine's configuration, key for key the LMCache configuration that users already write
 * (see {@code docs/configuration.md}). Sizes are in GB of 1024³ bytes, as in LMCache.
 * Build one with {@link #builder()}, or load one with {@code org.lmcache4j.config.ConfigLoader}.
 *
 * @param chunkSize           tokens per chunk ({@code chunk_size}, default 256)
 * @param localCpu            whether the CPU pool is used ({@code local_cpu}, default true)
 * @param maxLocalCpuSizeGb   size of the CPU pool in GB ({@code max_local_cpu_size}, default 5.0)
 * @param localDisk           disk tier directory or {@code file://} URL ({@code local_disk})
 * @param maxLocalDiskSizeGb  disk tier cap in GB ({@code max_local_disk_size}, default 0)
 * @param remoteUrl           remote tier URL ({@code remote_url})
 * @param remoteSerde         remote serializer ({@code remote_serde}, default {@code naive})
 * @param saveUnfullChunk     store a trailing partial chunk ({@code save_unfull_chunk}, default true)
 * @param saveDecodeCache     store decode-phase tokens ({@code save_decode_cache}, default false)
 * @param cachePolicy         eviction policy of the CPU tier ({@code cache_policy}, default LRU)
 * @param pinTimeoutSec       seconds after which a lookup's pins expire ({@code pin_timeout_sec}, 300)
 * @param lookupTimeoutMs     {@code lookup_timeout_ms} (default 3000)
 * @param blockingTimeoutSecs {@code blocking_timeout_secs} (default 10)
 * @param minRetrieveTokens   a hit shorter than this is not loaded ({@code min_retrieve_tokens}, 0)
 * @param instanceId          {@code lmcache_instance_id}
 * @param extraConfig         {@code extra_config}: free-form settings, passed through
 */
public record EngineConfig(int chunkSize, boolean localCpu, double maxLocalCpuSizeGb,
                           Optional<String> localDisk, double maxLocalDiskSizeGb,
                           Optional<String> remoteUrl, String remoteSerde, boolean saveUnfullChunk,
                           boolean saveDecodeCache, String cachePolicy, int pinTimeoutSec,
                           int lookupTimeoutMs, int blockingTimeoutSecs, int minRetrieveTokens,
                           String instanceId, Map<String, Object> extraConfig) {

    /** LMCache's GB: 1024³ bytes. */
    public static final long GB = 1024L * 1024 * 1024;

    /** Eviction policies the CPU tier implements. */
    public static final java.util.List<String> CACHE_POLICIES = java.util.List.of("LRU");

    public EngineConfig {
        if (chunkSize <= 0) {
            throw new IllegalArgumentException("chunk_size must be a positive integer, got " + chunkSize);
        }
        requireFiniteNonNegative("max_local_cpu_size", maxLocalCpuSizeGb);
        requireFiniteNonNegative("max_local_disk_size", maxLocalDiskSizeGb);
        if (pinTimeoutSec <= 0) {
            throw new IllegalArgumentException("pin_timeout_sec must be positive, got " + pinTimeoutSec);
        }
        if (lookupTimeoutMs <= 0) {
            throw new IllegalArgumentException("lookup_timeout_ms must be positive, got " + lookupTimeoutMs);
        }
        if (blockingTimeoutSecs <= 0) {
            throw new IllegalArgumentException("blocking_timeout_secs must be positive, got " + blockingTimeoutSecs);
        }
        if (minRetrieveTokens < 0) {
            throw new IllegalArgumentException("min_retrieve_tokens must not be negative, got " + minRetrieveTokens);
        }
        cachePolicy = cachePolicy == null ? "" : cachePolicy.trim().toUpperCase(Locale.ROOT);
        if (!CACHE_POLICIES.contains(cachePolicy)) {
            throw new IllegalArgumentException("cache_policy '" + cachePolicy
                    + "' is not supported (supported: " + String.join(", ", CACHE_POLICIES) + ")");
        }
        localDisk = localDisk == null ? Optional.empty() : localDisk.filter(s -> !s.isBlank());
        remoteUrl = remoteUrl == null ? Optional.empty() : remoteUrl.filter(s -> !s.isBlank());
        remoteSerde = remoteSerde == null ? "naive" : remoteSerde;
        instanceId = instanceId == null ? "lmcache_default_instance" : instanceId;
        extraConfig = extraConfig == null ? Map.of() : Map.copyOf(extraConfig);
    }

    /** LMCache's defaults. */
    public static EngineConfig defaults() {
        return builder().build();
    }

    public static Builder builder() {
        return new Builder();
    }

    /** A builder holding this configuration's values. */
    public Builder toBuilder() {
        Builder b = new Builder();
        b.chunkSize = chunkSize;
        b.localCpu = localCpu;
        b.maxLocalCpuSizeGb = maxLocalCpuSizeGb;
        b.localDisk = localDisk.orElse(null);
        b.maxLocalDiskSizeGb = maxLocalDiskSizeGb;
        b.remoteUrl = remoteUrl.orElse(null);
        b.remoteSerde = remoteSerde;
        b.saveUnfullChunk = saveUnfullChunk;
        b.saveDecodeCache = saveDecodeCache;
        b.cachePolicy = cachePolicy;
        b.pinTimeoutSec = pinTimeoutSec;
        b.lookupTimeoutMs = lookupTimeoutMs;
        b.blockingTimeoutSecs = blockingTimeoutSecs;
        b.minRetrieveTokens = minRetrieveTokens;
        b.instanceId = instanceId;
        b.extraConfig = extraConfig;
        return b;
    }

    /** The CPU pool's size in bytes: 0 when {@code local_cpu} is false. */
    public long cpuPoolBytes() {
        return localCpu ? (long) (maxLocalCpuSizeGb * GB) : 0L;
    }

    /** The disk tier's cap in bytes. */
    public long diskBytes() {
        return (long) (maxLocalDiskSizeGb * GB);
    }

    private static void requireFiniteNonNegative(String key, double gb) {
        if (!Double.isFinite(gb) || gb < 0) {
            throw new IllegalArgumentException(key + " must be a non-negative number of GB, got " + gb);
        }
    }

    /** Mutable builder; {@link #build()} validates. */
    public static final class Builder {
        private int chunkSize = 256;
        private boolean localCpu = true;
        private double maxLocalCpuSizeGb = 5.0;
        private String localDisk;
        private double maxLocalDiskSizeGb = 0.0;
        private String remoteUrl;
        private String remoteSerde = "naive";
        private boolean saveUnfullChunk = true;
        private boolean saveDecodeCache = false;
        private String cachePolicy = "LRU";
        private int pinTimeoutSec = 300;
        private int lookupTimeoutMs = 3000;
        private int blockingTimeoutSecs = 10;
        private int minRetrieveTokens = 0;
        private String instanceId = "lmcache_default_instance";
        private Map<String, Object> extraConfig = Map.of();

        private Builder() {
        }

        public Builder chunkSize(int v) { chunkSize = v; return this; }
        public Builder localCpu(boolean v) { localCpu = v; return this; }
        public Builder maxLocalCpuSizeGb(double v) { maxLocalCpuSizeGb = v; return this; }
        public Builder localDisk(String v) { localDisk = v; return this; }
        public Builder maxLocalDiskSizeGb(double v) { maxLocalDiskSizeGb = v; return this; }
        public Builder remoteUrl(String v) { remoteUrl = v; return this; }
        public Builder remoteSerde(String v) { remoteSerde = v; return this; }
        public Builder saveUnfullChunk(boolean v) { saveUnfullChunk = v; return this; }
        public Builder saveDecodeCache(boolean v) { saveDecodeCache = v; return this; }
        public Builder cachePolicy(String v) { cachePolicy = v; return this; }
        public Builder pinTimeoutSec(int v) { pinTimeoutSec = v; return this; }
        public Builder lookupTimeoutMs(int v) { lookupTimeoutMs = v; return this; }
        public Builder blockingTimeoutSecs(int v) { blockingTimeoutSecs = v; return this; }
        public Builder minRetrieveTokens(int v) { minRetrieveTokens = v; return this; }
        public Builder instanceId(String v) { instanceId = v; return this; }
        public Builder extraConfig(Map<String, Object> v) { extraConfig = v; return this; }

        public EngineConfig build() {
            return new EngineConfig(chunkSize, localCpu, maxLocalCpuSizeGb, Optional.ofNullable(localDisk),
                    maxLocalDiskSizeGb, Optional.ofNullable(remoteUrl), remoteSerde, saveUnfullChunk,
                    saveDecodeCache, cachePolicy, pinTimeoutSec, lookupTimeoutMs, blockingTimeoutSecs,
                    minRetrieveTokens, instanceId, extraConfig);
        }
    }
}
