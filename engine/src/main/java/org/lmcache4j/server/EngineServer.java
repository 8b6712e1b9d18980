package org.lmcache4j.server;

import org.lmcache4j.CacheEngine;
import org.lmcache4j.bridge.SocketFiles;
import org.lmcache4j.memory.UnixSockets;
import org.lmcache4j.metrics.MetricsRegistry;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicLong;

/**
 * {@code lmcache4j server}: one engine per tensor-parallel rank ({@link EngineHost}) for every
 * serving process of this user on the machine, on a Unix socket in a private directory
 * ({@link SocketFiles}). One platform thread accepts, and each client has a platform thread of
 * its own ({@link ClientConnection}).
 *
 * <p>{@link #close} stops it: no new connections, the requests in flight finish (for at most
 * {@code grace}; then their connections are cut and their copies count as failed), every rank's
 * engine closes (each disk tier keeps what it should, as on every close), and the socket is removed.
 */
public final class EngineServer implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(EngineServer.class);

    private final Path path;
    private final UnixSockets sockets;
    private final int listener;
    private final EngineHost host;
    private final int uid;
    private final Duration grace;
    private final Thread acceptor;
    private final Map<ClientConnection, Thread> clients = new ConcurrentHashMap<>();
    private final AtomicLong ids = new AtomicLong();
    private final CountDownLatch stopped = new CountDownLatch(1);
    private volatile boolean stopping;

    private EngineServer(Path path, UnixSockets sockets, int listener, EngineHost host, Duration grace) {
        this.path = path;
        this.sockets = sockets;
        this.listener = listener;
        this.host = host;
        this.uid = sockets.effectiveUid();
        this.grace = grace;
        this.acceptor = Thread.ofPlatform().name("lmcache4j-server-accept").unstarted(this::accept);
    }

    /**
     * Listens at {@code socket}. The engine opens when the first client says hello, with
     * {@code configFile} (null: {@code LMCACHE_CONFIG_FILE}, else the LMCACHE_* variables of
     * {@code env}) under that client's settings; its metrics go to {@code registry}.
     */
    public static EngineServer start(Path socket, String configFile, Map<String, String> env, MetricsRegistry registry,
                                     Duration grace) {
        Path path = socket.toAbsolutePath();
        UnixSockets sockets = UnixSockets.require();
        EngineHost host = new EngineHost(configFile, env, registry);
        try {
            SocketFiles.prepare(path, "serve");
            int fd = sockets.listen(path, 64);
            try {
                SocketFiles.restrict(path);
            } catch (IOException | RuntimeException e) {
                sockets.close(fd);
                Files.deleteIfExists(path);
                throw e;
            }
            EngineServer server = new EngineServer(path, sockets, fd, host, grace);
            server.acceptor.start();
            LOG.info("LMCache4j server listening at {} (pid {}, uid {})", path, ProcessHandle.current().pid(), server.uid);
            return server;
        } catch (IOException e) {
            throw new IllegalArgumentException("cannot serve at " + path + ": " + e.getMessage(), e);
        }
    }

    public Path socket() {
        return path;
    }

    /** The first engine a client opened (with one rank, the only one); else null. */
    public CacheEngine engine() {
        return host.engine();
    }

    /** The engine of tensor-parallel rank {@code rank}, once a client of that rank opened it; else null. */
    public CacheEngine engine(int rank) {
        return host.engine(rank);
    }

    /** Every engine open, by rank. */
    public Map<Integer, CacheEngine> engines() {
        return host.engines();
    }

    /** Waits until {@link #close} has finished. */
    public void awaitStopped() throws InterruptedException {
        stopped.await();
    }

    private void accept() {
        while (!stopping) {
            int fd;
            try {
                fd = sockets.accept(listener);
            } catch (IOException e) {
                if (!stopping) {
                    LOG.error("LMCache4j server stops accepting: {}", e.getMessage());
                }
                return;
            }
            long id = ids.incrementAndGet();
            ClientConnection c = new ClientConnection(id, sockets, fd, host, uid);
            Thread t = Thread.ofPlatform().name("lmcache4j-server-client-" + id).unstarted(() -> {
                try {
                    c.run();
                } finally {
                    clients.remove(c);
                }
            });
            clients.put(c, t);
            if (stopping) {
                c.stop(); // raced with close: it ends before its first request
            }
            t.start();
        }
    }

    @Override
    public synchronized void close() {
        if (stopping) {
            return;
        }
        stopping = true;
        LOG.info("LMCache4j server stopping: {} client(s) connected", clients.size());
        sockets.shutdown(listener); // wakes the acceptor
        join(acceptor, Duration.ofSeconds(10));
        clients.keySet().forEach(ClientConnection::stop);
        long deadline = System.nanoTime() + grace.toNanos();
        for (Thread t : clients.values()) {
            join(t, Duration.ofNanos(Math.max(0, deadline - System.nanoTime())));
        }
        if (!clients.isEmpty()) {
            LOG.warn("LMCache4j server: {} request(s) still running after {}; their connections are cut", clients.size(), grace);
            clients.keySet().forEach(ClientConnection::abort);
            clients.values().forEach(t -> join(t, Duration.ofSeconds(10)));
        }
        try {
            host.close();
        } finally {
            sockets.close(listener);
            try {
                Files.deleteIfExists(path);
            } catch (IOException e) {
                LOG.warn("LMCache4j server: could not remove {}: {}", path, e.toString());
            }
            LOG.info("LMCache4j server stopped");
            stopped.countDown();
        }
    }

    private static void join(Thread t, Duration max) {
        try {
            t.join(max);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
