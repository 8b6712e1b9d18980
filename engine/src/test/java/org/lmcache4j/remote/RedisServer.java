package org.lmcache4j.remote;

import java.io.IOException;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * A real {@code redis-server} on loopback, on a free port, with persistence off, stopped by its pid.
 * {@link #shared()} uses the one {@code ./test.sh} started (it exports LMCACHE4J_TEST_REDIS_PORT)
 * and otherwise starts one for the JVM; tests that kill or reconfigure Redis start their own.
 */
public final class RedisServer implements AutoCloseable {
    private static RedisServer shared;

    public final int port;
    private final Process process;
    private final Path dir;

    private RedisServer(int port, Process process, Path dir) {
        this.port = port;
        this.process = process;
        this.dir = dir;
    }

    public static synchronized RedisServer shared() throws IOException {
        if (shared == null) {
            String port = System.getenv("LMCACHE4J_TEST_REDIS_PORT");
            shared = port != null ? new RedisServer(Integer.parseInt(port), null, null) : start();
            if (shared.process != null) {
                Runtime.getRuntime().addShutdownHook(new Thread(shared::close));
            }
        }
        return shared;
    }

    public static RedisServer start(String... extra) throws IOException {
        return start(freePort(), extra);
    }

    public static RedisServer start(int port, String... extra) throws IOException {
        Path dir = Files.createTempDirectory("lmcache4j-redis");
        List<String> cmd = new ArrayList<>(List.of("redis-server", "--port", String.valueOf(port),
                "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", dir.toString(),
                "--protected-mode", "no"));
        cmd.addAll(List.of(extra));
        Process p;
        try {
            p = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(dir.resolve("log").toFile()).start();
        } catch (IOException e) {
            throw new IOException("redis-server is not installed (./test.sh installs it): " + e.getMessage(), e);
        }
        RedisServer server = new RedisServer(port, p, dir);
        server.awaitPing();
        return server;
    }

    /**
     * A Sentinel on loopback watching {@code master} under the name {@code name}: the
     * {@code redis-sentinel://} tier resolves the master through it.
     */
    public static RedisServer sentinel(RedisServer master, String name) throws IOException {
        int port = freePort();
        Path dir = Files.createTempDirectory("lmcache4j-sentinel");
        Path conf = dir.resolve("sentinel.conf");
        Files.writeString(conf, "port " + port + "\nbind 127.0.0.1\nprotected-mode no\ndir " + dir + "\n"
                + "sentinel monitor " + name + " 127.0.0.1 " + master.port + " 1\n"
                + "sentinel down-after-milliseconds " + name + " 5000\n");
        Process p = new ProcessBuilder("redis-server", conf.toString(), "--sentinel").redirectErrorStream(true)
                .redirectOutput(dir.resolve("log").toFile()).start();
        RedisServer sentinel = new RedisServer(port, p, dir);
        sentinel.awaitPing();
        return sentinel;
    }

    /** Runs {@code redis-cli -p PORT args…} and returns its output. */
    public String cli(String... args) throws IOException, InterruptedException {
        return cli(port, args);
    }

    public static String cli(int port, String... args) throws IOException, InterruptedException {
        List<String> cmd = new ArrayList<>(List.of("redis-cli", "-h", "127.0.0.1", "-p", String.valueOf(port)));
        cmd.addAll(List.of(args));
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).trim();
        p.waitFor(30, TimeUnit.SECONDS);
        return out;
    }

    public String url() {
        return "redis://127.0.0.1:" + port;
    }

    private void awaitPing() throws IOException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
        while (System.nanoTime() < deadline) {
            try {
                if ("PONG".equals(cli("ping"))) {
                    return;
                }
                Thread.sleep(20);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                break;
            }
        }
        throw new IOException("redis-server on port " + port + " did not answer; log: " + dir.resolve("log"));
    }

    static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0)) {
            return s.getLocalPort();
        }
    }

    /** SIGSTOP: the server keeps its connections open and answers nothing, like a hung Redis. */
    public void pause() throws IOException, InterruptedException {
        signal("-STOP");
    }

    /** SIGCONT: the paused server answers again (the replies it owes included). */
    public void resume() throws IOException, InterruptedException {
        signal("-CONT");
    }

    private void signal(String sig) throws IOException, InterruptedException {
        new ProcessBuilder("kill", sig, Long.toString(process.pid())).start().waitFor();
    }

    /** Stops the server by its pid (SIGKILL: the tests that call it simulate a crash). */
    public void kill() throws InterruptedException {
        if (process != null) {
            process.destroyForcibly();
            process.waitFor(10, TimeUnit.SECONDS);
        }
    }

    @Override
    public void close() {
        if (process == null) {
            return;
        }
        process.destroy();
        try {
            if (!process.waitFor(10, TimeUnit.SECONDS)) {
                process.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
