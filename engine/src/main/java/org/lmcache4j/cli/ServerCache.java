package org.lmcache4j.cli;

import org.lmcache4j.CudaStream;
import org.lmcache4j.KeyScope;
import org.lmcache4j.KvLayout;
import org.lmcache4j.server.ServerClient;
import org.lmcache4j.server.ServerRefusal;

import java.io.IOException;
import java.io.PrintStream;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.util.List;
import java.util.function.LongSupplier;

/**
 * The replay's calls on {@code lmcache4j server}, through a {@link ServerClient} that copies in
 * this process's caches, with the faults of a client as liblmcache4j.so's client mode has them:
 * while the server is gone every lookup misses, every store is skipped and every retrieve loads
 * nothing, with no error for the request loop; it says so once, and tries a new connection (a new
 * HELLO) on a later call at most once a second. A request the server refuses as bad still throws:
 * that is the replay's bug, not a fault.
 *
 * <p>The server's counters are per server process, and a restarted server starts them again, so
 * what the run made of them is summed over its connections: each connection's growth from its
 * HELLO to the last answer it gave ({@link ServerCounters}).
 */
final class ServerCache implements ReplayCache, AutoCloseable {
    static final long RECONNECT_NANOS = 1_000_000_000L;

    /** One server call, which may find the server gone. */
    private interface Call<T> {
        T run(ServerClient client) throws IOException;
    }

    private final Path socket;
    private final String model;
    private final KvLayout layout;
    private final List<MemorySegment> caches;
    private final PrintStream log;
    private final LongSupplier clock;
    private final ServerCounters counters = new ServerCounters();
    private ServerClient client;
    private long lastAttempt;
    private long callsWithoutServer;
    private long reconnects;
    private int serverPid;
    private int chunkSize;

    private ServerCache(Path socket, String model, KvLayout layout, List<MemorySegment> caches, PrintStream log,
                        LongSupplier clock) {
        this.socket = socket;
        this.model = model;
        this.layout = layout;
        this.caches = caches;
        this.log = log;
        this.clock = clock;
    }

    /**
     * Connects for the first time; a server that is not there, or refuses this client, throws
     * here (the run has not started: that is the caller's to fix).
     */
    static ServerCache connect(Path socket, String model, KvLayout layout, List<MemorySegment> caches, PrintStream log,
                               LongSupplier clock) throws IOException {
        ServerCache c = new ServerCache(socket, model, layout, caches, log, clock);
        c.open();
        return c;
    }

    private void open() throws IOException {
        ServerClient c = ServerClient.connect(socket, model, layout, null);
        try {
            c.registerKvCaches(caches);
            counters.connected(c.stats(), ServerCounters.diskHitTokens(c.metricsText()));
        } catch (IOException | RuntimeException e) {
            c.close();
            throw e;
        }
        client = c;
        serverPid = c.serverPid();
        chunkSize = c.chunkSize();
    }

    @Override
    public void lookupAndPin(String requestId, int[] prompt) {
        call(c -> c.lookup(KeyScope.NONE, prompt, requestId), 0);
    }

    @Override
    public Retrieved retrieve(int[] prompt, long[] slots, CudaStream stream) {
        return call(c -> new Retrieved(c.retrieve(KeyScope.NONE, prompt, slots, 0), false), Retrieved.NONE,
                Retrieved.LOST);
    }

    @Override
    public void unpin(String requestId) {
        call(c -> c.unpin(requestId), 0);
    }

    @Override
    public int store(int[] prompt, long[] slots, CudaStream stream) {
        return call(c -> c.store(KeyScope.NONE, prompt, slots, 0), 0);
    }

    @Override
    public void awaitTransfers() {
        // the server answers a store once its chunks are published
    }

    /** Asks the server (outside the store's timing), unless it is gone: then no store ran to skip anything. */
    @Override
    public long storeSkippedChunks() {
        refresh(false);
        return counters.grown(ServerCounters.STORE_SKIPPED_CHUNKS);
    }

    @Override
    public long capacityPages() {
        return counters.last(ServerCounters.CAPACITY_PAGES);
    }

    @Override
    public int chunkSize() {
        return chunkSize;
    }

    /**
     * The server's counters and gauges as this run saw them last: read again while connected (a
     * server that is gone is not tried again for them).
     */
    ServerCounters counters() {
        refresh(true);
        return counters;
    }

    /** Reads the server's STATS, and with {@code diskHits} its metrics, while connected (not a call of its own otherwise). */
    private void refresh(boolean diskHits) {
        if (client != null) {
            call(c -> {
                counters.stats(c.stats());
                if (diskHits) {
                    counters.diskHits(ServerCounters.diskHitTokens(c.metricsText()));
                }
                return 0;
            }, 0);
        }
    }

    boolean connected() {
        return client != null;
    }

    /** Calls answered without the server (a miss, a skipped store, nothing loaded). */
    long callsWithoutServer() {
        return callsWithoutServer;
    }

    long reconnects() {
        return reconnects;
    }

    /** The process id of the server this run last talked to. */
    int serverPid() {
        return serverPid;
    }

    private <T> T call(Call<T> call, T whenGone) {
        return call(call, whenGone, whenGone);
    }

    /**
     * {@code call}'s answer; {@code whenGone} when the server was gone already, {@code whenLost}
     * when it went away during the call. Nothing is thrown for either.
     */
    private <T> T call(Call<T> call, T whenGone, T whenLost) {
        ServerClient c = live();
        if (c == null) {
            callsWithoutServer++;
            return whenGone;
        }
        try {
            return call.run(c);
        } catch (IOException | ServerRefusal e) { // a refusal mid-run: the server is closing its engine
            lost(e);
            callsWithoutServer++;
            return whenLost;
        }
    }

    /** The connection, or null while the server is gone and the last try was less than a second ago. */
    private ServerClient live() {
        if (client != null) {
            return client;
        }
        long now = clock.getAsLong();
        if (now - lastAttempt < RECONNECT_NANOS) {
            return null;
        }
        lastAttempt = now;
        try {
            open();
        } catch (IOException | RuntimeException e) {
            return null; // still gone (or a server that refuses this client now): try again in a second
        }
        reconnects++;
        log.println("replay: reconnected to lmcache4j server at " + socket + " (pid " + serverPid + ") after "
                + callsWithoutServer + " calls without it");
        return client;
    }

    private void lost(Exception e) {
        log.println("replay: lmcache4j server at " + socket + " is gone (" + e.getMessage() + "): lookups miss and"
                + " stores are skipped until it is back; trying again at most once a second");
        counters.disconnected();
        client.close();
        client = null;
        lastAttempt = clock.getAsLong();
    }

    @Override
    public void close() {
        if (client != null) {
            client.close(); // GOODBYE: the server releases this connection's pins
            client = null;
        }
    }
}
