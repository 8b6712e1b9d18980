package org.lmcache4j.config;

import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * The {@code remote_url} schemes LMCache4j's remote tier speaks, and the refusal of any other.
 * LMCache has many remote back ends ({@code lm://} for its own cache server, which the
 * production-stack chart's {@code cacheserverSpec} deploys, {@code mooncakestore://},
 * {@code s3://}, {@code infinistore://}, {@code fs://}, ...); LMCache4j speaks Redis only. A URL of
 * another scheme is refused when the configuration is built, so {@code info} shows the same
 * refusal as the engine and {@code replay}, instead of printing the URL as valid.
 */
public final class RemoteSchemes {

    /** The schemes of Redis, as LMCache spells them, plus Redis Cluster. */
    public static final List<String> SUPPORTED = List.of("redis", "rediss", "redis-sentinel", "redis-cluster");

    /** What LMCache's other schemes are, for the message. */
    private static final Map<String, String> LMCACHE_BACKENDS = Map.of(
            "lm", "LMCache's own cache server (lm://, the production-stack chart's cacheserverSpec)",
            "mooncakestore", "the Mooncake store (mooncakestore://)",
            "s3", "S3 object storage (s3://)",
            "infinistore", "InfiniStore (infinistore://)",
            "fs", "LMCache's shared file-system back end (fs://)",
            "blackhole", "LMCache's test back end that drops everything (blackhole://)",
            "valkey", "LMCache's Valkey connector (valkey://)");

    private RemoteSchemes() {
    }

    /**
     * Refuses {@code url} unless its scheme is one of {@link #SUPPORTED}; null (no remote tier) passes.
     *
     * @throws ConfigRefusedException naming remote_url, the back end the scheme selects, and the Redis schemes
     */
    public static void check(String url) {
        if (url == null) {
            return;
        }
        int end = url.indexOf("://");
        String scheme = end < 0 ? "" : url.substring(0, end).toLowerCase(Locale.ROOT);
        if (SUPPORTED.contains(scheme)) {
            return;
        }
        String what = LMCACHE_BACKENDS.getOrDefault(scheme, scheme.isEmpty()
                ? "a remote tier without a scheme" : "a remote tier of scheme " + scheme + "://");
        throw new ConfigRefusedException(List.of(new ConfigRefusedException.Refusal("remote_url", redact(url), null,
                Feature.REMOTE_BACKEND, what)));
    }

    /** The URL without the user and password it may carry, for messages. */
    static String redact(String url) {
        return url.replaceAll("//[^/@]*@", "//***@");
    }
}
