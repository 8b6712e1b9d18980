package org.lmcache4j.config;

import org.lmcache4j.EngineConfig;

/**
 * The prefetcher's setting, in {@code extra_config} with the tiers' own (LMCache has no key for
 * it: its asynchronous loading bounds concurrency by the pool's free chunks, not by a setting).
 *
 * @param maxConcurrency {@code prefetch_max_concurrency}: prefetches that read at once (default 4,
 *                       1..64); more wait in a queue
 */
public record PrefetchOptions(int maxConcurrency) {
    public static final int DEFAULT_MAX_CONCURRENCY = 4;

    public PrefetchOptions {
        if (maxConcurrency < 1 || maxConcurrency > 64) {
            throw new IllegalArgumentException("extra_config.prefetch_max_concurrency must be 1..64, got "
                    + maxConcurrency);
        }
    }

    public static PrefetchOptions from(EngineConfig config) {
        Object raw = config.extraConfig().get("prefetch_max_concurrency");
        if (raw == null) {
            return new PrefetchOptions(DEFAULT_MAX_CONCURRENCY);
        }
        int n;
        try {
            n = ConfigValues.toInt(raw);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("extra_config.prefetch_max_concurrency: '" + raw + "' " + e.getMessage(), e);
        }
        return new PrefetchOptions(n);
    }
}
