package org.lmcache4j.remote;

import io.lettuce.core.RedisURI;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * A {@code remote_url}, with LMCache's schemes for Redis:
 * <pre>
 * redis://[user:password@]host:port[/db]        one server
 * rediss://…                                     the same over TLS
 * redis-sentinel://[password@]host:port[,host:port…][/db]#master
 * redis-cluster://host:port[,host:port…]         a Redis Cluster, any of its nodes as seeds
 * </pre>
 * Anything else (LMCache's own {@code lm://} cache server, {@code mooncakestore://}, …) is refused
 * with a message that names the value, so a misconfigured server does not start as if it had a
 * remote tier.
 */
public record RemoteUrl(String url, boolean cluster, List<RedisURI> uris) {

    public static RemoteUrl parse(String url, Duration timeout) {
        String scheme = url.contains("://") ? url.substring(0, url.indexOf("://")).toLowerCase(Locale.ROOT) : "";
        try {
            return switch (scheme) {
                case "redis", "rediss", "redis-sentinel" -> {
                    RedisURI uri = RedisURI.create(url);
                    uri.setTimeout(timeout);
                    yield new RemoteUrl(url, false, List.of(uri));
                }
                case "redis-cluster" -> new RemoteUrl(url, true, clusterSeeds(url, timeout));
                default -> throw new IllegalArgumentException("scheme '" + scheme + "' is not supported by LMCache4j "
                        + "(redis://, rediss://, redis-sentinel://, redis-cluster://)");
            };
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("remote_url '" + redact(url) + "': " + e.getMessage(), e);
        }
    }

    private static List<RedisURI> clusterSeeds(String url, Duration timeout) {
        String rest = url.substring("redis-cluster://".length());
        String auth = "";
        int at = rest.lastIndexOf('@');
        if (at >= 0) {
            auth = rest.substring(0, at + 1);
            rest = rest.substring(at + 1);
        }
        int slash = rest.indexOf('/');
        if (slash >= 0) {
            rest = rest.substring(0, slash);
        }
        List<RedisURI> seeds = new ArrayList<>();
        for (String hostPort : rest.split(",")) {
            if (hostPort.isBlank()) {
                throw new IllegalArgumentException("empty node in the list");
            }
            RedisURI uri = RedisURI.create("redis://" + auth + hostPort.trim());
            uri.setTimeout(timeout);
            seeds.add(uri);
        }
        return List.copyOf(seeds);
    }

    /** The URL without its password, for logs. */
    public String redacted() {
        return redact(url);
    }

    static String redact(String url) {
        return url.replaceAll("//([^/@]*:)?[^/@:]*@", "//***@");
    }
}
