package org.lmcache4j.server;

import org.lmcache4j.CudaStream;
import org.lmcache4j.memory.SharedSlabSource;
import org.lmcache4j.transfer.KvTransfer;
import org.lmcache4j.transfer.PagedCaches;
import org.lmcache4j.transfer.TransferBatch;

import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;

/**
 * The server engine's transfer: a batch copies nothing itself but collects its chunk copies, and
 * at {@link TransferBatch#finish} hands them to the client whose request runs (one COPY) and
 * waits for its COPY_DONE. So the engine's own store and retrieve run unchanged on the server:
 * a page is written only under a lease the engine granted, and a store publishes its chunks only
 * once the client says its copies landed. When the client reports a failure, or its connection
 * drops, {@code finish} throws without calling {@code landed}: the engine then publishes nothing
 * and closes the leases, as after any copy that failed before it finished.
 *
 * <p>The client is the connection whose thread runs the engine call: it binds {@link #PEER}
 * around the call, and {@link #begin} captures it. A client whose caches are CUDA device memory
 * (opened here from its IPC handles, {@link DeviceCaches}) gets the batch of its own CUDA
 * transfer instead: the server copies, and the client receives no COPY.
 */
final class ClientTransfer implements KvTransfer {
    /** The connection a request runs for, bound by its thread around the engine call. */
    static final ScopedValue<CopyPeer> PEER = ScopedValue.newInstance();

    private final SharedSlabSource slabs;

    ClientTransfer(SharedSlabSource slabs) {
        this.slabs = slabs;
    }

    @Override
    public TransferBatch begin(PagedCaches caches, long[] slots, CudaStream stream) {
        return batch(peer(), slots, WireProtocol.WHOLE_CHUNK);
    }

    @Override
    public TransferBatch beginLayer(PagedCaches caches, long[] slots, CudaStream stream, int layer) {
        return batch(peer(), slots, layer);
    }

    private TransferBatch batch(CopyPeer peer, long[] slots, int layer) {
        DeviceCaches device = peer.deviceCaches();
        return device.attached() ? device.begin(slots, layer) : new Batch(peer, layer);
    }

    @Override
    public void checkStream(CudaStream stream) {
        if (!stream.equals(CudaStream.DEFAULT)) {
            throw new IllegalArgumentException("a client's host caches take only CUDA stream 0, got " + stream);
        }
    }

    @Override
    public String describe() {
        return "client";
    }

    private static CopyPeer peer() {
        if (!PEER.isBound()) {
            throw new IllegalStateException("the server's engine copies only for a client's request");
        }
        return PEER.get();
    }

    private final class Batch implements TransferBatch {
        private final CopyPeer peer;
        private final int layer;
        private final List<CopyOp> ops = new ArrayList<>();

        Batch(CopyPeer peer, int layer) {
            this.peer = peer;
            this.layer = layer;
        }

        @Override
        public void gather(int from, int to, MemorySegment page) {
            add(WireProtocol.GATHER, from, to, page);
        }

        @Override
        public void scatter(MemorySegment page, int from, int to) {
            add(WireProtocol.SCATTER, from, to, page);
        }

        private void add(int kind, int from, int to, MemorySegment page) {
            SharedSlabSource.Location at = slabs.locate(page);
            ops.add(new CopyOp(kind, layer, from, to, at.slab(), at.slabBytes(), at.offset()));
        }

        @Override
        public void finish(Consumer<Throwable> landed) {
            if (!ops.isEmpty()) {
                peer.copy(List.copyOf(ops)); // throws when the copies did not land: landed is not called
            }
            landed.accept(null);
        }
    }
}
