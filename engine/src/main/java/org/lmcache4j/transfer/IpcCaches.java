package org.lmcache4j.transfer;

import jcuda.CudaException;
import org.lmcache4j.KvLayout;

import java.util.List;

/**
 * Another process's paged caches in CUDA device memory, opened here from the IPC handles it sent
 * (the server's side of a client's REGISTER_DEVICE_CACHES, lmcache4j_wire.h): one handle per
 * layer, of the allocation that holds the layer, and the layer's offset in it. Each is opened
 * with {@code cuIpcOpenMemHandle} in the device's primary context, and closed (one reference
 * each: the driver counts opens of one handle, so layers in one allocation are fine) by
 * {@link #close}. Opening checks, before anything is used, that every layer lies inside its
 * allocation for the client's layout; a handle the driver refuses, or a layer that does not fit,
 * closes what was opened and throws {@link IllegalArgumentException} naming the layer.
 *
 * <p>Loads JCuda: open it only after {@code CudaProbe} saw a driver and a device.
 */
public final class IpcCaches implements AutoCloseable {
    /** One layer as the client sends it: its allocation's IPC handle (64 bytes) and its offset there. */
    public record Layer(byte[] handle, long offset) {
        public Layer {
            if (handle.length != CudaHandles.IPC_HANDLE_BYTES || offset < 0) {
                throw new IllegalArgumentException("a device layer is a " + CudaHandles.IPC_HANDLE_BYTES
                        + "-byte CUDA IPC handle and an offset >= 0, got " + handle.length + " bytes and offset " + offset);
            }
        }
    }

    private final DeviceMemory device;
    private final long[] opened;
    private final PagedCaches caches;
    private boolean closed;

    private IpcCaches(DeviceMemory device, long[] opened, PagedCaches caches) {
        this.device = device;
        this.opened = opened;
        this.caches = caches;
    }

    /** Opens {@code layers} (one per layer of {@code layout}, whose num_blocks are the client's) on {@code deviceId}. */
    public static IpcCaches open(int deviceId, KvLayout layout, List<Layer> layers) {
        if (layers.size() != layout.numLayers()) {
            throw new IllegalArgumentException("expected " + layout.numLayers() + " device layer caches, got " + layers.size());
        }
        DeviceMemory device = new DeviceMemory(deviceId);
        long[] opened = new long[layers.size()];
        int n = 0;
        try {
            long[] addresses = new long[layers.size()];
            for (; n < layers.size(); n++) {
                Layer l = layers.get(n);
                opened[n] = open(device, l.handle(), n);
                long size = device.allocationBytes(opened[n]);
                if (l.offset() > size || size - l.offset() < layout.layerCacheBytes()) {
                    n++; // this one is open: close it with the others
                    throw new IllegalArgumentException("layer " + (n - 1) + " cache at offset " + l.offset() + " of a "
                            + size + "-byte allocation does not fit: the layout needs " + layout.layerCacheBytes()
                            + " bytes (check num_blocks, block_size, heads, head_size and dtype)");
                }
                addresses[n] = opened[n] + l.offset();
            }
            return new IpcCaches(device, opened, PagedCaches.ofAddresses(layout, addresses));
        } catch (RuntimeException | Error e) {
            closeOpened(device, opened, n, e);
            device.close();
            throw e;
        }
    }

    private static long open(DeviceMemory device, byte[] handle, int layer) {
        try {
            return device.openIpc(handle);
        } catch (CudaException e) {
            throw new IllegalArgumentException("layer " + layer + "'s CUDA IPC handle could not be opened on device "
                    + device.device() + ": cuIpcOpenMemHandle: " + e.getMessage(), e);
        }
    }

    /** The opened caches, at their addresses in this process. */
    public PagedCaches caches() {
        return caches;
    }

    public int device() {
        return device.device();
    }

    /** Closes every handle and releases the context; the transfer that copied here must be idle. */
    @Override
    public synchronized void close() {
        if (!closed) {
            closed = true;
            RuntimeException failures = new RuntimeException("closing CUDA IPC caches");
            closeOpened(device, opened, opened.length, failures);
            device.close();
            if (failures.getSuppressed().length > 0) {
                throw failures;
            }
        }
    }

    private static void closeOpened(DeviceMemory device, long[] opened, int count, Throwable failures) {
        for (int i = 0; i < count; i++) {
            try {
                device.closeIpc(opened[i]);
            } catch (RuntimeException e) {
                failures.addSuppressed(e);
            }
        }
    }
}
