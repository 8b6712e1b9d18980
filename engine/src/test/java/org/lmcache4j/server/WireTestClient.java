package org.lmcache4j.server;

import org.lmcache4j.KvLayout;
import org.lmcache4j.TestCaches;
import org.lmcache4j.memory.SharedSlabSource;
import org.lmcache4j.memory.UnixSockets;
import org.lmcache4j.transfer.HostKvTransfer;
import org.lmcache4j.transfer.KvTransfer;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import java.util.function.Consumer;

/**
 * A client of the server protocol in Java, over the real socket, for the server's own tests: it
 * maps the slabs it is sent and runs COPY ops on its {@link TestCaches} with the engine's host copy
 * loops, as liblmcache4j.so's client mode does in C. What it does with a COPY is the test's choice.
 */
final class WireTestClient implements AutoCloseable {
    /** A request's ERROR. */
    static final class Refused extends RuntimeException {
        final int status;

        Refused(int status, String message) {
            super("status " + status + ": " + message);
            this.status = status;
        }
    }

    /** What the client does with a COPY: run it (the default), or something a test wants instead. */
    interface CopyHandler {
        /** Returns the COPY_DONE to send, or null to send none. */
        WireWriter handle(WireTestClient client, long[][] ops) throws IOException;
    }

    final WireChannel channel;
    final Map<Integer, MemorySegment> slabs = new HashMap<>();
    final Map<Integer, Integer> slabFds = new HashMap<>();
    TestCaches caches;
    long pageBytes;
    int chunkSize;
    private final KvTransfer host = new HostKvTransfer();
    private long[] requestSlots;

    private WireTestClient(WireChannel channel) {
        this.channel = channel;
    }

    static WireTestClient connect(Path socket) throws IOException {
        UnixSockets sockets = UnixSockets.require();
        return new WireTestClient(new WireChannel(sockets, sockets.connect(socket)));
    }

    /** HELLO of protocol {@code version} for {@code caches}' layout; returns the answer (WELCOME or ERROR). */
    WireChannel.Message hello(int version, String model, TestCaches caches, String settings) throws IOException {
        KvLayout l = caches.layout;
        this.caches = caches;
        channel.write(new WireWriter(WireProtocol.HELLO).i32(WireProtocol.MAGIC).i32(version)
                .i32((int) ProcessHandle.current().pid()).i32(0).string(model).i32(1).i32(0)
                .i32(l.numLayers()).i32(l.numKvHeads()).i32(l.headSize()).string(l.dtype().torchName())
                .i32(l.blockSize()).i32(l.numBlocks()).string(l.format().configName()).string(settings));
        WireChannel.Message m = channel.read();
        if (m.type() == WireProtocol.WELCOME) {
            WireReader r = m.reader("WELCOME");
            r.i32();
            r.i32();
            pageBytes = r.i64();
            chunkSize = r.i32();
        }
        return m;
    }

    /** Sends a request and reads its RESULT (values), running any COPY with {@code copies}. */
    long[] call(int type, Consumer<WireWriter> body, CopyHandler copies) throws IOException {
        WireWriter w = new WireWriter(type);
        body.accept(w);
        channel.write(w);
        while (true) {
            WireChannel.Message m = channel.read();
            switch (m.type()) {
                case WireProtocol.SLAB -> {
                    WireReader r = m.reader("SLAB");
                    int slab = r.i32();
                    r.i32();
                    long bytes = r.i64();
                    slabs.put(slab, SharedSlabSource.attach(m.fd(), bytes));
                    slabFds.put(slab, m.fd());
                }
                case WireProtocol.COPY -> {
                    WireReader r = m.reader("COPY");
                    long[][] ops = new long[r.i32()][];
                    for (int i = 0; i < ops.length; i++) {
                        ByteBuffer b = ByteBuffer.allocate(WireProtocol.COPY_OP_BYTES).order(ByteOrder.LITTLE_ENDIAN);
                        b.putInt(r.i32()).putInt(r.i32()).putInt(r.i32()).putInt(r.i32()).putInt(r.i32()).putInt(r.i32())
                                .putLong(r.i64()).flip();
                        ops[i] = new long[] {b.getShort(0), b.getInt(4), b.getInt(8), b.getInt(12), b.getInt(16), b.getLong(24)};
                    }
                    WireWriter done = copies.handle(this, ops);
                    if (done == null) {
                        return null;
                    }
                    channel.write(done);
                }
                case WireProtocol.RESULT -> {
                    WireReader r = m.reader("RESULT");
                    long[] values = r.longs();
                    r.string();
                    return values;
                }
                case WireProtocol.ERROR -> {
                    WireReader r = m.reader("ERROR");
                    throw new Refused(r.i32(), r.string());
                }
                default -> throw new IllegalStateException("unexpected message type " + m.type());
            }
        }
    }

    /** A RESULT's text (CONFIG_JSON, METRICS_*). */
    String text(int type) throws IOException {
        channel.write(new WireWriter(type));
        WireChannel.Message m = channel.read();
        WireReader r = m.reader("RESULT");
        r.longs();
        return r.string();
    }

    long lookup(int[] tokens, String pinFor) throws IOException {
        return call(WireProtocol.LOOKUP, w -> w.string(null).string(null).string(pinFor).ints(tokens), null)[0];
    }

    long store(int[] tokens, long[] slots) throws IOException {
        return copying(WireProtocol.STORE, tokens, slots, WireTestClient::runCopies);
    }

    long retrieve(int[] tokens, long[] slots) throws IOException {
        return copying(WireProtocol.RETRIEVE, tokens, slots, WireTestClient::runCopies);
    }

    long copying(int type, int[] tokens, long[] slots, CopyHandler copies) throws IOException {
        requestSlots = slots;
        long[] v = call(type, w -> w.string(null).string(null).i64(0).ints(tokens).longs(slots), copies);
        return v == null ? -1 : v[0];
    }

    long[] stats() throws IOException {
        return call(WireProtocol.STATS, w -> { }, null);
    }

    /** Runs every op on this client's caches with the engine's host copy loops, then says done. */
    static WireWriter runCopies(WireTestClient c, long[][] ops) {
        for (long[] op : ops) {
            int from = (int) op[2];
            int to = (int) op[3];
            MemorySegment page = c.slabs.get((int) op[4]).asSlice(op[5], c.caches.layout.chunkBytes(to - from));
            if (op[0] == WireProtocol.GATHER) {
                c.host.gather(c.caches.view, c.requestSlots, from, to, page);
            } else {
                c.host.scatter(page, c.caches.view, c.requestSlots, from, to);
            }
        }
        return new WireWriter(WireProtocol.COPY_DONE).i32(0).string("");
    }

    @Override
    public void close() {
        slabs.values().forEach(SharedSlabSource::detach);
        slabFds.values().forEach(fd -> channel.sockets().close(fd));
        channel.close();
    }
}
