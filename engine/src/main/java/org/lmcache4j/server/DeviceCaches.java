package org.lmcache4j.server;

import org.lmcache4j.CudaStream;
import org.lmcache4j.KvLayout;
import org.lmcache4j.cuda.CudaProbe;
import org.lmcache4j.cuda.CudaRuntime;
import org.lmcache4j.transfer.IpcCaches;
import org.lmcache4j.transfer.KvTransfer;
import org.lmcache4j.transfer.TransferBatch;

import java.util.List;
import java.util.Map;

/**
 * A client's paged caches in CUDA device memory, opened on the server from the IPC handles of its
 * REGISTER_DEVICE_CACHES, and the CUDA transfer of this connection that copies between them and
 * the pool ({@link ClientTransfer} hands it the connection's batches instead of sending COPY ops).
 * {@link #NONE} stands for a client whose caches are host memory (it runs its copies itself).
 *
 * <p>Ordering with the client, which is another process: the server answers a STORE or RETRIEVE
 * only after {@link #awaitIdle} (its own stream synchronized, the batch's landed action run), so
 * a RETRIEVE's bytes are in the client's caches when it reads the RESULT; the client, for its
 * part, finishes writing the KV a STORE reads before it sends the request.
 */
sealed interface DeviceCaches extends AutoCloseable {
    /** Host caches: the client copies. */
    DeviceCaches NONE = new None();

    boolean attached();

    /** This connection's batch over its caches, whole chunks ({@code layer} -1) or one layer. */
    TransferBatch begin(long[] slots, int layer);

    /** Throws, naming the first, when a slot lies outside the client's own caches (its num_blocks). */
    void checkSlots(long[] slots);

    /** Returns once every batch begun has landed and its landed action has run. */
    void awaitIdle();

    @Override
    void close();

    /** Opens {@code layers} on {@code device} for a client of {@code layout}, the pool page-locked for it first. */
    static DeviceCaches open(int device, KvLayout layout, List<IpcCaches.Layer> layers, DeviceSlabs slabs,
                             Map<String, Object> extraConfig) {
        CudaProbe.Result probe = CudaProbe.system();
        if (!probe.devicesPresent()) {
            throw new UnsupportedOperationException("device caches need a CUDA device on the server, and it has none: "
                    + probe.reason());
        }
        if (device < 0 || device >= probe.devices()) {
            throw new IllegalArgumentException("CUDA device " + device + " does not exist on the server: its driver sees "
                    + probe.devices() + " device(s)");
        }
        slabs.enable(device);
        IpcCaches opened = IpcCaches.open(device, layout, layers);
        try {
            KvTransfer transfer = CudaRuntime.transfer(extraConfig, device, opened.caches().layer(0).address());
            try {
                transfer.prepare(opened.caches());
            } catch (RuntimeException | Error e) {
                transfer.close();
                throw e;
            }
            return new Opened(opened, transfer);
        } catch (RuntimeException | Error e) {
            opened.close();
            throw e;
        }
    }

    record None() implements DeviceCaches {
        @Override
        public boolean attached() {
            return false;
        }

        @Override
        public TransferBatch begin(long[] slots, int layer) {
            throw new IllegalStateException("this client registered no device caches");
        }

        @Override
        public void checkSlots(long[] slots) {
        }

        @Override
        public void awaitIdle() {
        }

        @Override
        public void close() {
        }
    }

    record Opened(IpcCaches caches, KvTransfer transfer) implements DeviceCaches {
        @Override
        public boolean attached() {
            return true;
        }

        @Override
        public TransferBatch begin(long[] slots, int layer) {
            return layer == WireProtocol.WHOLE_CHUNK ? transfer.begin(caches.caches(), slots, CudaStream.DEFAULT)
                    : transfer.beginLayer(caches.caches(), slots, CudaStream.DEFAULT, layer);
        }

        @Override
        public void checkSlots(long[] slots) {
            long limit = (long) caches.caches().layout().numBlocks() * caches.caches().layout().blockSize();
            for (int i = 0; i < slots.length; i++) {
                if (slots[i] < -1 || slots[i] >= limit) {
                    throw new IllegalArgumentException("slot_mapping[" + i + "] = " + slots[i] + " is outside the client's"
                            + " device caches (" + limit + " slots)");
                }
            }
        }

        @Override
        public void awaitIdle() {
            transfer.awaitIdle();
        }

        /** Waits for the copies in flight, then closes the transfer and the handles. */
        @Override
        public void close() {
            try {
                transfer.close();
            } finally {
                caches.close();
            }
        }
    }
}
