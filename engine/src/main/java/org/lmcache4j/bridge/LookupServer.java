package org.lmcache4j.bridge;

import org.lmcache4j.CacheEngine;
import org.lmcache4j.KeyScope;
import org.lmcache4j.LookupHit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.ClosedChannelException;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Serves an engine's lookups on a Unix socket ({@link LookupProtocol}), so that vLLM's scheduler,
 * in another process than the tensor-parallel workers that own the engines, learns how much of a
 * prompt every worker holds, and pins it there until the worker retrieves it.
 *
 * <h2>Who may connect</h2>
 * Only the user who owns the engine. The socket lives in a directory that this user owns and
 * nobody else may enter (mode 0700, checked, never loosened or tightened behind the user's back),
 * and the socket itself is made 0600 right after it is bound; since nobody else can reach into the
 * directory, there is no window in which another user could connect. A stale socket left by a dead
 * process is replaced; any other file at the path is refused.
 *
 * <p>One platform thread accepts; each connection is served on a virtual thread, so lookups from
 * the scheduler never wait behind the serving engine's own work in the worker's Python thread.
 */
final class LookupServer implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(LookupServer.class);

    private final CacheEngine engine;
    private final Path path;
    private final ServerSocketChannel server;
    private final Thread acceptor;
    private final Set<SocketChannel> clients = ConcurrentHashMap.newKeySet();

    private LookupServer(CacheEngine engine, Path path, ServerSocketChannel server) {
        this.engine = engine;
        this.path = path;
        this.server = server;
        this.acceptor = Thread.ofPlatform().daemon().name("lmcache4j-lookup-" + path.getFileName()).unstarted(this::accept);
    }

    static LookupServer start(CacheEngine engine, Path socket) {
        Path path = socket.toAbsolutePath();
        try {
            SocketFiles.prepare(path, "serve lookups");
            ServerSocketChannel ch = ServerSocketChannel.open(StandardProtocolFamily.UNIX);
            try {
                ch.bind(UnixDomainSocketAddress.of(path));
                SocketFiles.restrict(path);
            } catch (IOException | RuntimeException e) {
                ch.close();
                throw e;
            }
            LookupServer s = new LookupServer(engine, path, ch);
            s.acceptor.start();
            LOG.info("LMCache4j serving lookups at {}", path);
            return s;
        } catch (IOException e) {
            throw new IllegalArgumentException("cannot serve lookups at " + path + ": " + e, e);
        }
    }

    Path path() {
        return path;
    }

    /** Stops accepting, ends the open connections and removes the socket file. */
    @Override
    public void close() {
        try {
            server.close();
            acceptor.join(5_000);
            for (SocketChannel c : clients) {
                c.close();
            }
            Files.deleteIfExists(path);
        } catch (IOException e) {
            LOG.warn("closing the lookup socket {}: {}", path, e.toString());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private void accept() {
        while (server.isOpen()) {
            try {
                SocketChannel client = server.accept();
                clients.add(client);
                Thread.ofVirtual().name("lmcache4j-lookup-client").start(() -> serve(client));
            } catch (ClosedChannelException e) {
                return;
            } catch (IOException e) {
                LOG.warn("lookup socket {}: {}", path, e.toString());
            }
        }
    }

    private void serve(SocketChannel client) {
        try (client) {
            while (true) {
                LookupProtocol.Request r;
                try {
                    r = LookupProtocol.read(client);
                } catch (IllegalArgumentException e) {
                    LookupProtocol.write(client, NativeStatus.INVALID_ARGUMENT.code, 0, e.getMessage());
                    return; // the stream is out of step: drop the connection
                }
                if (r == null) {
                    return;
                }
                answer(client, r);
            }
        } catch (IOException e) {
            LOG.debug("lookup connection on {} ended: {}", path, e.toString());
        } finally {
            clients.remove(client);
        }
    }

    private void answer(SocketChannel client, LookupProtocol.Request r) throws IOException {
        long value;
        String text = null;
        try {
            KeyScope scope = new KeyScope(r.cacheSalt(), r.adapter());
            if (r.counted()) {
                checkPromptCounts(r.promptTokens(), r.vllmHitTokens()); // before anything is looked up
            }
            String pinFor = r.op() == LookupProtocol.Op.LOOKUP_AND_PIN ? r.requestId() : null;
            value = r.poolTokens() ? packed(engine.lookupHit(pinFor, scope, r.tokens())) : switch (r.op()) {
                case LOOKUP -> engine.lookup(scope, r.tokens());
                case LOOKUP_AND_PIN -> engine.lookupAndPin(r.requestId(), scope, r.tokens());
                case UNPIN -> engine.unpin(r.requestId());
                case CONFIG -> {
                    text = AbiAnswers.configJson(engine.config());
                    yield 0;
                }
            };
            if (r.counted()) {
                engine.countPrompt(r.promptTokens(), r.vllmHitTokens()); // only for a lookup that was answered
            }
        } catch (RuntimeException e) {
            LookupProtocol.write(client, NativeStatus.of(e).code, 0, NativeStatus.message(e));
            return;
        }
        LookupProtocol.write(client, 0, value, text);
    }

    /** A hit as the pool-tokens flag answers it (and the C ABI's lmcache4j_lookup_tiers passes it): tokens low, pool high. */
    static long packed(LookupHit hit) {
        return hit.tokens() | (long) hit.poolTokens() << 32;
    }

    /** What {@link CacheEngine#countPrompt} refuses, refused before the lookup rather than after it. */
    private static void checkPromptCounts(int promptTokens, int vllmHitTokens) {
        if (promptTokens < 0 || vllmHitTokens < 0 || vllmHitTokens > promptTokens) {
            throw new IllegalArgumentException("prompt tokens " + promptTokens + " and vLLM hit tokens " + vllmHitTokens
                    + ": both must be >= 0, and the hit at most the prompt");
        }
    }
}
