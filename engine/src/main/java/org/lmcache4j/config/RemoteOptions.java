package org.lmcache4j.config;

import org.lmcache4j.EngineConfig;

import java.util.Map;

/**
 * The remote tier's settings beyond LMCache's {@code remote_url}, read from {@code extra_config}
 * (like the disk tier's, so that the top-level key space stays LMCache's).
 *
 * @param timeoutMs    {@code remote_timeout_ms}: how long a lookup or a read waits for Redis before
 *                     the tier is marked unhealthy and the request goes on without it (default 2000)
 * @param ttlSec       {@code remote_ttl_sec}: expiry of the records written, 0 for none (default 0)
 * @param maxInflight  {@code remote_max_inflight}: writes in flight at most; more are dropped and
 *                     counted, so a slow Redis never holds the pool (default 16)
 * @param lookupTimeoutMs LMCache's {@code lookup_timeout_ms}: a lookup waits for Redis no longer
 *                     than this either (default 3000)
 */
public record RemoteOptions(int timeoutMs, int ttlSec, int maxInflight, int lookupTimeoutMs) {

    /** The options of a tier with these settings, LMCache's default lookup time limit included. */
    public RemoteOptions(int timeoutMs, int ttlSec, int maxInflight) {
        this(timeoutMs, ttlSec, maxInflight, 3000);
    }

    public RemoteOptions {
        if (timeoutMs <= 0) {
            throw new IllegalArgumentException("extra_config.remote_timeout_ms must be positive, got " + timeoutMs);
        }
        if (ttlSec < 0) {
            throw new IllegalArgumentException("extra_config.remote_ttl_sec must not be negative, got " + ttlSec);
        }
        if (lookupTimeoutMs <= 0) {
            throw new IllegalArgumentException("lookup_timeout_ms must be positive, got " + lookupTimeoutMs);
        }
        if (maxInflight < 1) {
            throw new IllegalArgumentException("extra_config.remote_max_inflight must be at least 1, got " + maxInflight);
        }
    }

    public static RemoteOptions from(EngineConfig config) {
        Map<String, Object> extra = config.extraConfig();
        return new RemoteOptions(get(extra, "remote_timeout_ms", 2000), get(extra, "remote_ttl_sec", 0),
                get(extra, "remote_max_inflight", 16), config.lookupTimeoutMs());
    }

    private static int get(Map<String, Object> extra, String key, int dflt) {
        Object raw = extra.get(key);
        if (raw == null) {
            return dflt;
        }
        try {
            return ConfigValues.toInt(raw);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("extra_config." + key + ": '" + raw + "' " + e.getMessage(), e);
        }
    }
}
