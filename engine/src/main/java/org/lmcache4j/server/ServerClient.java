package org.lmcache4j.server;

import org.lmcache4j.CudaStream;
import org.lmcache4j.KeyScope;
import org.lmcache4j.KvLayout;
import org.lmcache4j.memory.SharedSlabSource;
import org.lmcache4j.memory.UnixSockets;
import org.lmcache4j.transfer.HostKvTransfer;
import org.lmcache4j.transfer.KvTransfer;
import org.lmcache4j.transfer.PagedCaches;
import org.lmcache4j.transfer.TransferBatch;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;

/**
 * A Java client of {@code lmcache4j server}, as liblmcache4j.so's client mode is a C one: it says
 * hello with its layout, maps the slabs it is sent, and runs the server's COPY ops on its own host
 * caches with the engine's host copy loops ({@link HostKvTransfer}). For Java programs in their
 * own process (benchmarks, a replay against a server); not thread-safe: one request at a time.
 * A request the server refuses throws as the embedded engine would (IllegalArgumentException for
 * status 1, IllegalStateException for 2, UnsupportedOperationException for 6, ...).
 */
public final class ServerClient implements AutoCloseable {
    /** What the client does with a COPY: its ops, answered with the COPY_DONE to send (null: none). */
    interface CopyRunner {
        WireWriter run(ServerClient client, List<CopyOp> ops) throws IOException;
    }

    private final WireChannel channel;
    private final KvLayout layout;
    private final Map<Integer, MemorySegment> slabs = new HashMap<>();
    private final List<Integer> slabFds = new ArrayList<>();
    private final KvTransfer host = new HostKvTransfer();
    private PagedCaches caches;
    private long[] requestSlots;
    private long pageBytes;
    private int chunkSize;
    private int serverPid;
    private boolean closed;

    private ServerClient(WireChannel channel, KvLayout layout) {
        this.channel = channel;
        this.layout = layout;
    }

    /** Connects and says hello (protocol {@link WireProtocol#VERSION}); a refusal throws with the server's message. */
    public static ServerClient connect(Path socket, String model, KvLayout layout, String settings) throws IOException {
        return connect(socket, WireProtocol.VERSION, model, 1, 0, layout, settings);
    }

    /** As a tensor-parallel worker: rank {@code rank} of {@code worldSize}, whose hello picks that rank's engine. */
    public static ServerClient connect(Path socket, String model, int worldSize, int rank, KvLayout layout,
                                       String settings) throws IOException {
        return connect(socket, WireProtocol.VERSION, model, worldSize, rank, layout, settings);
    }

    static ServerClient connect(Path socket, int version, String model, KvLayout layout, String settings)
            throws IOException {
        return connect(socket, version, model, 1, 0, layout, settings);
    }

    private static ServerClient connect(Path socket, int version, String model, int worldSize, int rank,
                                        KvLayout layout, String settings) throws IOException {
        UnixSockets sockets = UnixSockets.require();
        ServerClient c = new ServerClient(new WireChannel(sockets, sockets.connect(socket)), layout);
        try {
            WireReader r = answer(c.hello(version, model, worldSize, rank, settings), WireProtocol.WELCOME);
            r.i32();
            c.serverPid = r.i32();
            c.pageBytes = r.i64();
            c.chunkSize = r.i32();
            return c;
        } catch (IOException | RuntimeException e) {
            c.channel.close();
            throw e;
        }
    }

    private WireChannel.Message hello(int version, String model, int worldSize, int rank, String settings)
            throws IOException {
        channel.write(new WireWriter(WireProtocol.HELLO).i32(WireProtocol.MAGIC).i32(version)
                .i32((int) ProcessHandle.current().pid()).i32(0).string(model).i32(worldSize).i32(rank)
                .i32(layout.numLayers()).i32(layout.numKvHeads()).i32(layout.headSize()).string(layout.dtype().torchName())
                .i32(layout.blockSize()).i32(layout.numBlocks()).string(layout.format().configName()).string(settings));
        return channel.read();
    }

    /** This client's paged caches, in host memory, for the copies of its stores and retrieves. */
    public void registerKvCaches(List<MemorySegment> layerCaches) {
        caches = PagedCaches.of(layout, layerCaches);
    }

    public long pageBytes() {
        return pageBytes;
    }

    public int chunkSize() {
        return chunkSize;
    }

    /** The server's process id, as its WELCOME said. */
    public int serverPid() {
        return serverPid;
    }

    public int lookup(KeyScope scope, int[] tokens, String pinFor) throws IOException {
        return (int) call(WireProtocol.LOOKUP, w -> scope(w, scope).string(pinFor).ints(tokens), null).values()[0];
    }

    public int store(KeyScope scope, int[] tokens, long[] slots, int skipLeading) throws IOException {
        return (int) copying(WireProtocol.STORE, scope, tokens, slots, skipLeading, ServerClient::runCopies).values()[0];
    }

    public int retrieve(KeyScope scope, int[] tokens, long[] slots, int skipLeading) throws IOException {
        return (int) copying(WireProtocol.RETRIEVE, scope, tokens, slots, skipLeading, ServerClient::runCopies).values()[0];
    }

    public int unpin(String requestId) throws IOException {
        return (int) call(WireProtocol.UNPIN, w -> w.string(requestId), null).values()[0];
    }

    /** The counters of {@code lmcache4j_engine_stats}, in its order. */
    public long[] stats() throws IOException {
        return call(WireProtocol.STATS, w -> { }, null).values();
    }

    /** The server engine's effective configuration, as {@code lmcache4j_config_json} gives it. */
    public String configJson() throws IOException {
        return call(WireProtocol.CONFIG_JSON, w -> { }, null).text();
    }

    /** The server engine's metrics in the Prometheus text format. */
    public String metricsText() throws IOException {
        return call(WireProtocol.METRICS_TEXT, w -> { }, null).text();
    }

    /** Drops every chunk and pin of the server's engine (every client's). */
    public void clear() throws IOException {
        call(WireProtocol.CLEAR, w -> { }, null);
    }

    /** A store or retrieve whose COPY {@code copies} answers; null when it sent no COPY_DONE. */
    Requests.Answer copying(int type, KeyScope scope, int[] tokens, long[] slots, int skipLeading, CopyRunner copies)
            throws IOException {
        if (caches == null) {
            throw new IllegalStateException("no KV caches registered: call registerKvCaches first");
        }
        for (int t = 0; t < slots.length; t++) {
            if (slots[t] < -1 || slots[t] >= layout.numSlots()) { // the server cannot know this client's caches
                throw new IllegalArgumentException("slot_mapping[" + t + "] = " + slots[t] + " is outside -1.."
                        + (layout.numSlots() - 1));
            }
        }
        requestSlots = slots;
        return call(type, w -> scope(w, scope).i64(skipLeading).ints(tokens).longs(slots), copies);
    }

    /** Sends a request and returns its RESULT, running a COPY with {@code copies} (null when it sent no COPY_DONE). */
    Requests.Answer call(int type, Consumer<WireWriter> body, CopyRunner copies) throws IOException {
        WireWriter w = new WireWriter(type);
        body.accept(w);
        channel.write(w);
        while (true) {
            WireChannel.Message m = channel.read();
            if (m.type() == WireProtocol.SLAB) {
                WireReader r = m.reader("SLAB");
                int slab = r.i32();
                r.i32();
                long bytes = r.i64();
                slabFds.add(m.fd());
                slabs.put(slab, SharedSlabSource.attach(m.fd(), bytes));
            } else if (m.type() == WireProtocol.COPY) {
                WireReader r = m.reader("COPY");
                List<CopyOp> ops = new ArrayList<>();
                for (int i = r.i32(); i > 0; i--) {
                    ops.add(CopyOp.read(r));
                }
                WireWriter done = copies.run(this, ops);
                if (done == null) {
                    return null;
                }
                channel.write(done);
            } else {
                WireReader r = answer(m, WireProtocol.RESULT);
                long[] values = r.longs();
                String text = r.string();
                r.end();
                return new Requests.Answer(values, text);
            }
        }
    }

    /** Runs every op on this client's caches, then says done (or why not). */
    static WireWriter runCopies(ServerClient c, List<CopyOp> ops) {
        try {
            for (CopyOp op : ops) {
                MemorySegment page = c.page(op);
                TransferBatch batch = op.layer() == WireProtocol.WHOLE_CHUNK
                        ? c.host.begin(c.caches, c.requestSlots, CudaStream.DEFAULT)
                        : c.host.beginLayer(c.caches, c.requestSlots, CudaStream.DEFAULT, op.layer());
                if (op.kind() == WireProtocol.GATHER) {
                    batch.gather(op.from(), op.to(), page);
                } else {
                    batch.scatter(page, op.from(), op.to());
                }
            }
            return new WireWriter(WireProtocol.COPY_DONE).i32(0).string("");
        } catch (RuntimeException e) {
            return new WireWriter(WireProtocol.COPY_DONE).i32(7).string(e.toString());
        }
    }

    /** The page an op names, in this client's mapping of its slab. */
    MemorySegment page(CopyOp op) {
        MemorySegment slab = slabs.get(op.slab());
        if (slab == null) {
            throw new IllegalStateException("a COPY names slab " + op.slab() + ", which no SLAB brought");
        }
        return slab.asSlice(op.offset(), layout.chunkBytes(op.to() - op.from()));
    }

    WireChannel channel() {
        return channel;
    }

    /** The message's body if it is of {@code type}; an ERROR throws as the embedded engine would. */
    private static WireReader answer(WireChannel.Message m, int type) {
        if (m.type() == WireProtocol.ERROR) {
            WireReader r = m.reader("ERROR");
            int status = r.i32();
            String message = r.string();
            throw switch (status) {
                case 1 -> new IllegalArgumentException(message);
                case 6 -> new UnsupportedOperationException(message);
                default -> new ServerRefusal(status, message);
            };
        }
        if (m.type() != type) {
            throw new IllegalStateException("the server answered message type " + m.type() + ", not " + type);
        }
        return m.reader("message type " + type);
    }

    private static WireWriter scope(WireWriter w, KeyScope scope) {
        return w.string(scope.cacheSalt()).string(scope.adapter());
    }

    /** Says goodbye, unmaps the slabs and closes the connection. */
    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        try {
            channel.write(new WireWriter(WireProtocol.GOODBYE));
        } catch (IOException | RuntimeException e) {
            // the server is gone already: nothing to say goodbye to
        }
        slabs.values().forEach(SharedSlabSource::detach);
        slabFds.forEach(fd -> channel.sockets().close(fd));
        channel.close();
    }
}
