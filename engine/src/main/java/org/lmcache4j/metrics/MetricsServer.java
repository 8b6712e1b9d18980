package org.lmcache4j.metrics;

import com.sun.net.httpserver.HttpServer;

import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;

/**
 * A Prometheus scrape endpoint ({@code GET /metrics}) over a {@link MetricsRegistry}, on
 * the JDK's own HTTP server: no servlet container for one text page.
 */
public final class MetricsServer implements AutoCloseable {
    private final MetricsRegistry registry;
    private final HttpServer server;

    private MetricsServer(MetricsRegistry registry, HttpServer server) {
        this.registry = registry;
        this.server = server;
    }

    /** Starts serving on {@code host:port} (port 0 picks a free one). */
    public static MetricsServer start(String host, int port) {
        MetricsRegistry registry = new MetricsRegistry();
        try {
            HttpServer server = HttpServer.create(new InetSocketAddress(host, port), 0);
            server.createContext("/metrics", exchange -> {
                byte[] body = registry.scrape().getBytes(StandardCharsets.UTF_8);
                exchange.getResponseHeaders().set("Content-Type", "text/plain; version=0.0.4; charset=utf-8");
                exchange.sendResponseHeaders(200, body.length);
                try (OutputStream out = exchange.getResponseBody()) {
                    out.write(body);
                }
            });
            server.start();
            return new MetricsServer(registry, server);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot serve metrics on " + host + ":" + port + ": " + e.getMessage(), e);
        }
    }

    public MetricsRegistry registry() {
        return registry;
    }

    public int port() {
        return server.getAddress().getPort();
    }

    @Override
    public void close() {
        server.stop(0);
    }
}
