package org.lmcache4j;

import java.util.Locale;
import java.util.Map;
import java.util.Optional;

/**
 * The engine's configuration, key for key the LMCache configuration that users already write
 * (see {@code docs/configuration.md}). Sizes are in GB of 1024³ bytes, as in LMCache.
 * Build one with {@link #builder()}, or load one with {@code org.lmcache4j.config.ConfigLoader}.
 *
 * <p>Every chunk passes through the CPU pool, also on its way to or from the disk and remote
 * tiers, so an engine whose pool cannot hold one chunk could never cache anything: the engine
 * refuses to start with one ({@link #poolChunks(KvLayout)}).
 *
 * @param chunkSize           tokens per chunk ({@code chunk_size}, default 256)
 * @param localCpu            whether chunks are meant to stay in CPU memory ({@code local_cpu}, default
 *                            true); see {@link #cpuPoolBytes()} for what false means
 * @param maxLocalCpuSizeGb   size of the CPU pool in GB ({@code max_local_cpu_size}, default 5.0)
 * @param localDisk           disk tier directory or {@code file://} URL ({@code local_disk})
 * @param maxLocalDiskSizeGb  disk tier cap in GB ({@code max_local_disk_size}, default 0)
 * @param remoteUrl           remote tier URL ({@code remote_url})
 * @param remoteSerde         remote serializer ({@code remote_serde}, default {@code naive})
 * @param saveUnfullChunk     store a trailing partial chunk ({@code save_unfull_chunk}, default true)
 * @param saveDecodeCache     store decode-phase tokens ({@code save_decode_cache}, default false)
 * @param cachePolicy         eviction policy of the CPU tier ({@code cache_policy}: LRU, LFU, FIFO, MRU or
 *                            ADAPTIVE, default LRU; see EvictionPolicy)
 * @param pinTimeoutSec       seconds after which a lookup's pins expire ({@code pin_timeout_sec}, 300)
 * @param lookupTimeoutMs     {@code lookup_timeout_ms} (default 3000)
 * @param blockingTimeoutSecs {@code blocking_timeout_secs} (default 10)
 * @param minRetrieveTokens   a hit shorter than this is not loaded ({@code min_retrieve_tokens}, 0)
 * @param instanceId          {@code lmcache_instance_id}
 * @param extraConfig         {@code extra_config}: free-form settings, passed through
 * @param enableKvEvents      report what the CPU tier gains and loses as KV events, when the serving
 *                            engine asks for them ({@code enable_kv_events}, default false, as LMCache)
 * @param enableAsyncLoading  the vLLM connector loads hits in the background, the request joining the batch
 *                            once its KV has landed ({@code enable_async_loading}, default false, as LMCache)
 * @param useLayerwise        the vLLM connector stores and loads layer by layer ({@code use_layerwise},
 *                            default false, as LMCache): see {@link CacheEngine#storeLayers}
 */
public record EngineConfig(int chunkSize, boolean localCpu, double maxLocalCpuSizeGb,
                           Optional<String> localDisk, double maxLocalDiskSizeGb,
                           Optional<String> remoteUrl, String remoteSerde, boolean saveUnfullChunk,
                           boolean saveDecodeCache, String cachePolicy, int pinTimeoutSec,
                           int lookupTimeoutMs, int blockingTimeoutSecs, int minRetrieveTokens,
                           String instanceId, Map<String, Object> extraConfig, boolean enableKvEvents,
                           boolean enableAsyncLoading, boolean useLayerwise) {

    /** LMCache's GB: 1024³ bytes. */
    public static final long GB = 1024L * 1024 * 1024;

    /** The largest size in GB whose byte count fits in a {@code long}: 8 EiB. */
    public static final long MAX_SIZE_GB = Long.MAX_VALUE / GB;

    /** The most chunks one pool holds (its pages are indexed by {@code int}). */
    static final long MAX_POOL_CHUNKS = Integer.MAX_VALUE - 8;

    /** Pool pages start and end on 4 KiB boundaries (the unit of O_DIRECT), as {@code ChunkPool} rounds them. */
    private static final long PAGE_ALIGN = 4096;

    /** Eviction policies the CPU tier implements. */
    public static final java.util.List<String> CACHE_POLICIES = EvictionPolicy.NAMES;

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
        // Refused here, so that every reader of a configuration (info, replay, the engine) refuses alike.
        org.lmcache4j.config.RemoteSchemes.check(remoteUrl.orElse(null));
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
        b.enableKvEvents = enableKvEvents;
        b.enableAsyncLoading = enableAsyncLoading;
        b.useLayerwise = useLayerwise;
        return b;
    }

    /**
     * The CPU pool's size in bytes: {@code max_local_cpu_size}. With {@code local_cpu: false} it is
     * still that size when a disk or remote tier is configured, as in LMCache, whose
     * {@code local_cpu} only turns off the CPU "hot cache" while {@code max_local_cpu_size} goes on
     * sizing the buffer every chunk passes through on its way to those tiers (chunks are then
     * written to disk at once, see {@code DiskOptions}); with no such tier it is 0, and
     * {@link #poolChunks(KvLayout)} refuses it.
     */
    public long cpuPoolBytes() {
        return localCpu || hasLowerTier() ? (long) (maxLocalCpuSizeGb * GB) : 0L;
    }

    /** Whether chunks have somewhere to go below the CPU pool: a sized disk tier or a remote tier. */
    public boolean hasLowerTier() {
        return localDisk.isPresent() && diskBytes() > 0 || remoteUrl.isPresent();
    }

    /**
     * How many chunks of {@code layout} the CPU pool holds. Refuses, naming the keys, a pool that
     * cannot hold one chunk (an engine that could never cache anything: every chunk, also on its
     * way to disk or Redis, passes through the pool) and one of more chunks than a pool can index.
     *
     * @throws IllegalArgumentException for either
     */
    public long poolChunks(KvLayout layout) {
        long chunkBytes = layout.chunkBytes(chunkSize);
        long pageBytes = (chunkBytes + PAGE_ALIGN - 1) & -PAGE_ALIGN;
        long poolBytes = cpuPoolBytes();
        long chunks = poolBytes / pageBytes;
        if (!localCpu && !hasLowerTier()) {
            throw new IllegalArgumentException("local_cpu is false and there is no disk tier (local_disk with"
                    + " max_local_disk_size) or remote tier (remote_url) to keep chunks in: an engine that keeps them"
                    + " nowhere could never cache anything. Set local_cpu to true, or configure a tier");
        }
        if (chunks == 0) {
            long fitTokens = (poolBytes & -PAGE_ALIGN) / layout.tokenBytes();
            throw new IllegalArgumentException("max_local_cpu_size " + gb(maxLocalCpuSizeGb) + " GB (" + poolBytes
                    + " bytes) is smaller than one chunk: chunk_size " + chunkSize + " tokens of " + describe(layout)
                    + " take " + chunkBytes + " bytes (" + binary(chunkBytes) + "). The CPU pool could never hold a"
                    + " chunk, so nothing would ever be cached (every chunk passes through it, also on its way to"
                    + " disk or Redis). Raise max_local_cpu_size to at least " + gbAtLeast(pageBytes) + " GB"
                    + (fitTokens > 0 ? " or lower chunk_size to at most " + fitTokens : ""));
        }
        if (chunks > MAX_POOL_CHUNKS) {
            throw new IllegalArgumentException("max_local_cpu_size " + gb(maxLocalCpuSizeGb) + " GB would hold " + chunks
                    + " chunks of chunk_size " + chunkSize + " tokens (" + binary(chunkBytes) + " each), more than the "
                    + MAX_POOL_CHUNKS + " one pool can index: lower max_local_cpu_size or raise chunk_size");
        }
        return chunks;
    }

    /** Bytes in binary units, as LMCache4j prints sizes: {@code 32.00 MiB}, {@code 122.07 GiB}. */
    static String binary(long n) {
        String[] units = {"KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
        if (n < 1024) {
            return n + " bytes";
        }
        int u = Math.min(units.length, (63 - Long.numberOfLeadingZeros(n)) / 10);
        return String.format(Locale.ROOT, "%.2f %s", n / Math.pow(1024, u), units[u - 1]);
    }

    /** A size in GB as written, without an exponent: {@code 0.0001}, {@code 1000000000000}. */
    private static String gb(double gb) {
        return Double.isFinite(gb) ? java.math.BigDecimal.valueOf(gb).stripTrailingZeros().toPlainString()
                : String.valueOf(gb);
    }

    /** {@code bytes} in GB, rounded up to three decimals, so that the figure given is enough. */
    private static String gbAtLeast(long bytes) {
        return new java.math.BigDecimal(bytes).divide(new java.math.BigDecimal(GB), 3, java.math.RoundingMode.CEILING)
                .stripTrailingZeros().toPlainString();
    }

    private static String describe(KvLayout l) {
        return "this layout (" + l.numLayers() + " layers x " + l.numKvHeads() + " KV heads x " + l.headSize() + " "
                + l.dtype().torchName() + (l.format().planes() == 2 ? ", K and V" : "") + ")";
    }

    /** The disk tier's cap in bytes. */
    public long diskBytes() {
        return (long) (maxLocalDiskSizeGb * GB);
    }

    private static void requireFiniteNonNegative(String key, double gb) {
        if (!Double.isFinite(gb) || gb < 0) {
            throw new IllegalArgumentException(key + " must be a non-negative number of GB, got " + gb(gb));
        }
        if (gb >= MAX_SIZE_GB) {
            // Past this the byte count overflows a long (and would read as 8 EiB, silently).
            throw new IllegalArgumentException(key + " must be less than " + MAX_SIZE_GB + " GB, got " + gb(gb));
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
        private boolean enableKvEvents = false;
        private boolean enableAsyncLoading = false;
        private boolean useLayerwise = false;

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
        public Builder enableKvEvents(boolean v) { enableKvEvents = v; return this; }
        public Builder enableAsyncLoading(boolean v) { enableAsyncLoading = v; return this; }
        public Builder useLayerwise(boolean v) { useLayerwise = v; return this; }

        public EngineConfig build() {
            return new EngineConfig(chunkSize, localCpu, maxLocalCpuSizeGb, Optional.ofNullable(localDisk),
                    maxLocalDiskSizeGb, Optional.ofNullable(remoteUrl), remoteSerde, saveUnfullChunk,
                    saveDecodeCache, cachePolicy, pinTimeoutSec, lookupTimeoutMs, blockingTimeoutSecs,
                    minRetrieveTokens, instanceId, extraConfig, enableKvEvents, enableAsyncLoading,
                    useLayerwise);
        }
    }
}
