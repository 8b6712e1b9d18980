package org.lmcache4j.server;

import org.lmcache4j.CacheEngine;
import org.lmcache4j.bridge.NativeStatus;
import org.lmcache4j.memory.SharedSlabSource;
import org.lmcache4j.memory.UnixSockets;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.EOFException;
import java.io.IOException;
import java.util.BitSet;
import java.util.List;

/**
 * One client, on its own platform thread: the handshake (peer uid, HELLO, the engine admitted
 * for it), then its requests one at a time, each run on the server's engine with this connection
 * bound as the {@link CopyPeer} of its copies. When it ends, however it ends, the pins it took
 * are released (its leases were released by the engine calls, which fail when the client is
 * gone), and its socket is closed.
 *
 * <p>Stopping ({@link #stop}): a connection waiting for its next request ends at once; one that
 * runs a request finishes it, answers, and then ends.
 */
final class ClientConnection implements CopyPeer, Runnable {
    private static final Logger LOG = LoggerFactory.getLogger(ClientConnection.class);

    private final long id;
    private final WireChannel channel;
    private final EngineHost host;
    private final int serverUid;
    private final ConnectionPins pins;
    /** Slabs whose descriptor this client has received. */
    private final BitSet sentSlabs = new BitSet();
    /** Which engine the hello picked, for the log: " as rank r of world size w" (none with one rank). */
    private String rank = "";
    /** The client's HELLO, once admitted. */
    private Hello hello;
    /** The client's device caches, opened here (only this connection's thread reads or replaces them). */
    private DeviceCaches device = DeviceCaches.NONE;
    private boolean busy;
    private boolean stopping;
    private boolean closed;

    ClientConnection(long id, UnixSockets sockets, int fd, EngineHost host, int serverUid) {
        this.id = id;
        this.channel = new WireChannel(sockets, fd);
        this.host = host;
        this.serverUid = serverUid;
        this.pins = new ConnectionPins(id);
    }

    @Override
    public void run() {
        String who = "client " + id;
        CacheEngine engine = null;
        try {
            UnixSockets.Peer peer = channel.sockets().peer(channel.fd());
            who = "client " + id + " (pid " + peer.pid() + ", uid " + peer.uid() + ")";
            if (peer.uid() != serverUid) {
                LOG.warn("LMCache4j server refused {}: not the server's uid {}", who, serverUid);
                refuse(NativeStatus.STATE, "uid " + peer.uid() + " may not use the LMCache4j server of uid " + serverUid);
                return;
            }
            engine = handshake(who);
            if (engine == null) {
                return;
            }
            LOG.info("LMCache4j server: {} connected{}", who, rank);
            serve(engine);
        } catch (EOFException | ClientGone e) {
            // the client closed or died: nothing to answer
        } catch (IOException | RuntimeException e) {
            LOG.warn("LMCache4j server: {} dropped: {}", who, e.toString());
        } finally {
            closeDevice(); // waits for its copies in flight: their leases are released first
            int released = engine == null ? 0 : releasePins(engine);
            closeChannel();
            if (engine != null) {
                LOG.info("LMCache4j server: {} gone{}", who, released > 0 ? ", " + released + " pinned chunks released" : "");
            }
        }
    }

    /** Ends this connection: at once if it waits for a request, after its answer if it runs one. */
    synchronized void stop() {
        stopping = true;
        if (!busy && !closed) {
            channel.shutdown();
        }
    }

    /** Ends this connection now, a request in flight or not (its copy, if any, then counts as failed). */
    synchronized void abort() {
        if (!closed) {
            channel.shutdown();
        }
    }

    /** Under the lock of stop and abort: once closed, the descriptor's number may be another file's. */
    private synchronized void closeChannel() {
        closed = true;
        channel.close();
    }

    /** HELLO → WELCOME; null (after an ERROR) when the client is refused. */
    private CacheEngine handshake(String who) throws IOException {
        try {
            return hello(who);
        } catch (WireReader.MalformedMessage e) {
            LOG.warn("LMCache4j server refused {}: {}", who, e.getMessage());
            refuse(NativeStatus.INTERNAL, e.getMessage()); // it does not speak the protocol
            return null;
        }
    }

    private CacheEngine hello(String who) throws IOException {
        WireChannel.Message m = channel.read();
        dropDescriptor(m);
        if (m.type() != WireProtocol.HELLO) {
            refuse(NativeStatus.INTERNAL, "the first message must be HELLO (" + WireProtocol.HELLO + "), got type " + m.type());
            return null;
        }
        WireReader r = m.reader("HELLO");
        int magic = r.i32();
        int version = r.i32();
        if (magic != WireProtocol.MAGIC) {
            refuse(NativeStatus.INTERNAL, String.format("HELLO's magic is 0x%08x, not \"LMC4\"", magic));
            return null;
        }
        if (version != WireProtocol.VERSION) {
            refuse(NativeStatus.UNSUPPORTED, "the client speaks server protocol version " + version
                    + ", this server version " + WireProtocol.VERSION);
            return null;
        }
        CacheEngine engine;
        try {
            Hello said = Hello.read(r);
            engine = host.admit(said);
            hello = said;
            rank = said.worldSize() == 1 ? "" : " as " + new RankShare(said.worldSize(), said.rank());
        } catch (WireReader.MalformedMessage e) {
            throw e;
        } catch (RuntimeException e) {
            LOG.warn("LMCache4j server refused {}: {}", who, e.getMessage());
            refuse(NativeStatus.of(e), NativeStatus.message(e));
            return null;
        }
        channel.write(new WireWriter(WireProtocol.WELCOME).i32(WireProtocol.VERSION)
                .i32((int) ProcessHandle.current().pid()).i64(engine.layout().chunkBytes(engine.config().chunkSize()))
                .i32(engine.config().chunkSize()).i32(0));
        return engine;
    }

    private void serve(CacheEngine engine) throws IOException {
        Requests requests = new Requests(engine, pins, () -> device);
        try {
            serve(requests);
        } finally {
            requests.closeAll(); // its prefetches and layered operations, before its pins are released
        }
    }

    private void serve(Requests requests) throws IOException {
        while (true) {
            WireChannel.Message m;
            try {
                m = channel.read();
            } catch (WireReader.MalformedMessage e) {
                refuse(NativeStatus.INTERNAL, e.getMessage()); // a peer that breaks the framing: answer, then close
                return;
            }
            dropDescriptor(m);
            if (m.type() == WireProtocol.GOODBYE || !begin()) {
                return;
            }
            boolean malformed = false;
            boolean goOn;
            try {
                WireWriter answer;
                try {
                    answer = answer(requests, m);
                } catch (WireReader.MalformedMessage e) {
                    malformed = true; // a body that breaks the protocol: answer, then close
                    answer = error(NativeStatus.INTERNAL.code(), e.getMessage());
                }
                channel.write(answer);
            } finally {
                goOn = end();
            }
            if (!goOn || malformed) {
                return;
            }
        }
    }

    /** The request's RESULT, or its ERROR; throws when the connection must end. */
    private WireWriter answer(Requests requests, WireChannel.Message m) {
        try {
            Requests.Answer a = m.type() == WireProtocol.REGISTER_DEVICE_CACHES
                    ? registerDevice(requests.engine(), DeviceRegistration.read(m.reader("REGISTER_DEVICE_CACHES")))
                    : ScopedValue.where(ClientTransfer.PEER, this).call(() -> requests.answer(m.type(), m.reader(name(m.type()))));
            device.awaitIdle(); // the server's copies into or out of the client's device caches have landed
            return new WireWriter(WireProtocol.RESULT).longs(a.values()).string(a.text());
        } catch (ClientGone | WireReader.MalformedMessage e) {
            throw e;
        } catch (ClientCopyFailed e) {
            return error(e.status(), e.getMessage());
        } catch (Throwable t) {
            NativeStatus s = NativeStatus.of(t);
            if (s == NativeStatus.INTERNAL) {
                LOG.error("LMCache4j server: a request of client {} failed", id, t);
            }
            return error(s.code(), NativeStatus.message(t));
        }
    }

    @Override
    public void copy(List<CopyOp> ops) {
        try {
            WireWriter copy = new WireWriter(WireProtocol.COPY).i32(ops.size());
            SharedSlabSource slabs = host.slabs();
            for (CopyOp op : ops) {
                if (!sentSlabs.get(op.slab())) {
                    channel.write(new WireWriter(WireProtocol.SLAB).i32(op.slab()).i32(0).i64(op.slabBytes()),
                            slabs.descriptor(op.slab()));
                    sentSlabs.set(op.slab());
                }
                op.write(copy);
            }
            channel.write(copy);
            WireChannel.Message m = channel.read();
            dropDescriptor(m);
            if (m.type() != WireProtocol.COPY_DONE) {
                throw new ClientGone("the client answered a COPY with message type " + m.type() + ", not COPY_DONE", null);
            }
            WireReader r = m.reader("COPY_DONE");
            int status = r.i32();
            String message = r.string();
            r.end();
            if (status != NativeStatus.OK.code()) {
                throw new ClientCopyFailed(status, message);
            }
        } catch (IOException e) {
            throw new ClientGone(e);
        }
    }

    @Override
    public DeviceCaches deviceCaches() {
        return device;
    }

    /**
     * Opens the client's device caches; the ones it had stay until the new ones are open. No
     * layers: the client's caches are host memory again (it copies them itself).
     */
    private Requests.Answer registerDevice(CacheEngine engine, DeviceRegistration r) {
        if (r.layers().isEmpty()) {
            closeDevice();
            return Requests.Answer.of();
        }
        DeviceCaches opened = DeviceCaches.open(r.device(), hello.layout(), r.layers(), host.deviceSlabs(),
                engine.config().extraConfig());
        closeDevice();
        device = opened;
        LOG.info("LMCache4j server: client {} registered {} device caches on CUDA device {} (CUDA IPC)", id,
                r.layers().size(), r.device());
        return Requests.Answer.of();
    }

    private void closeDevice() {
        DeviceCaches d = device;
        device = DeviceCaches.NONE;
        try {
            d.close();
        } catch (RuntimeException e) {
            LOG.warn("LMCache4j server: closing the device caches of client {}: {}", id, e.toString());
        }
    }

    private synchronized boolean begin() {
        if (stopping) {
            return false;
        }
        busy = true;
        return true;
    }

    /** False when the connection must end now (the server stops). */
    private synchronized boolean end() {
        busy = false;
        return !stopping;
    }

    private int releasePins(CacheEngine engine) {
        try {
            return pins.releaseAll(engine);
        } catch (RuntimeException e) {
            return 0; // the engine closed meanwhile: its pins went with it
        }
    }

    private void refuse(NativeStatus status, String message) throws IOException {
        channel.write(error(status.code(), message));
    }

    private static WireWriter error(int status, String message) {
        return new WireWriter(WireProtocol.ERROR).i32(status).string(message);
    }

    private void dropDescriptor(WireChannel.Message m) {
        if (m.fd() >= 0) {
            channel.sockets().close(m.fd()); // clients pass no descriptors in version 1
        }
    }

    private static String name(int type) {
        return "message type " + type;
    }
}
