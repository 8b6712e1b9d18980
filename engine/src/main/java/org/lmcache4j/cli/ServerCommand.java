package org.lmcache4j.cli;

import org.lmcache4j.metrics.MetricsRegistry;
import org.lmcache4j.metrics.MetricsServer;
import org.lmcache4j.server.EngineServer;

import java.io.PrintStream;
import java.nio.file.Path;
import java.time.Duration;

/**
 * {@code lmcache4j server}: runs one engine for every serving process of this user on the machine
 * (docs/server.md) until SIGTERM or SIGINT, then stops cleanly and exits 0.
 */
final class ServerCommand {
    static final String USAGE = """
            lmcache4j server --socket PATH [options]   one engine shared by every serving process on the machine
              --socket PATH        the Unix socket (its directory must exist, be yours and be mode 0700)
              --config FILE        LMCache's YAML or JSON configuration (else LMCACHE_CONFIG_FILE, LMCACHE_*)
              --metrics-port P     serve Prometheus metrics on P
              --grace-sec S        on SIGTERM, how long requests in flight may take to finish (default 30)
            """;

    private final Args args;
    private final PrintStream err;

    ServerCommand(Args args, PrintStream err) {
        this.args = args;
        this.err = err;
    }

    int run() {
        Path socket = Path.of(args.string("socket").orElseThrow(
                () -> new IllegalArgumentException("server needs --socket PATH")));
        String config = args.string("config").orElse(null);
        Integer metricsPort = args.string("metrics-port").map(s -> args.integer("metrics-port", 0, 0)).orElse(null);
        if (metricsPort != null && metricsPort > 65535) {
            throw new IllegalArgumentException("--metrics-port must be at most 65535, got " + metricsPort);
        }
        Duration grace = Duration.ofSeconds(args.integer("grace-sec", 30, 0));
        args.finish();
        MetricsServer metrics;
        try {
            metrics = metricsPort == null ? null : MetricsServer.start("0.0.0.0", metricsPort);
        } catch (java.io.UncheckedIOException e) {
            throw new IllegalArgumentException("--metrics-port " + metricsPort + ": " + e.getMessage(), e);
        }
        try {
            EngineServer server = EngineServer.start(socket, config, System.getenv(),
                    metrics == null ? new MetricsRegistry() : metrics.registry(), grace);
            if (metrics != null) {
                err.println("serving Prometheus metrics on port " + metrics.port() + " at /metrics");
            }
            Runnable stop = () -> Thread.ofPlatform().name("lmcache4j-server-stop").start(server::close);
            StopSignals.install(stop);
            try {
                server.awaitStopped();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                server.close();
            }
            return 0;
        } finally {
            if (metrics != null) {
                metrics.close();
            }
        }
    }
}
