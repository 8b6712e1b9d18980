package org.lmcache4j;

import org.lmcache4j.transfer.DeviceMemory;
import org.lmcache4j.transfer.PagedCaches;

import java.lang.foreign.MemorySegment;
import java.util.List;
import java.util.Random;

/**
 * Paged KV caches in device memory (on the CPU-run CUDA driver in CI), as a serving engine on a
 * GPU holds them: one allocation per layer. Java never touches their bytes (a host read of device
 * memory faults, as on a GPU); they are filled and read back with copies through the driver.
 */
public final class DeviceCaches implements PagedTestCaches {
    private final KvLayout layout;
    private final DeviceMemory memory;
    private final long[] device;
    private final PagedCaches view;
    /** Staging for uploads and read-backs, in host memory. */
    private final TestCaches host;

    public DeviceCaches(KvLayout layout, int deviceId) {
        this.layout = layout;
        this.memory = new DeviceMemory(deviceId);
        this.device = new long[layout.numLayers()];
        try {
            for (int l = 0; l < device.length; l++) {
                device[l] = memory.allocate(layout.layerCacheBytes());
                memory.fill(device[l], (byte) 0, layout.layerCacheBytes());
            }
        } catch (RuntimeException e) {
            close();
            throw e;
        }
        this.view = PagedCaches.ofAddresses(layout, device);
        this.host = new TestCaches(layout);
    }

    public DeviceMemory memory() {
        return memory;
    }

    /** The host copy of what the caches last held or were last given: after {@link #writeRows}, the new KV. */
    public TestCaches expected() {
        return host;
    }

    @Override
    public KvLayout layout() {
        return layout;
    }

    @Override
    public PagedCaches view() {
        return view;
    }

    @Override
    public long[] addresses() {
        return device.clone();
    }

    @Override
    public void fillRandom(long seed) {
        host.fillRandom(seed);
        for (int l = 0; l < device.length; l++) {
            memory.upload(host.layers.get(l), device[l], layout.layerCacheBytes(), 0);
        }
        memory.synchronize(0);
    }

    /** Reads every layer back (on the default stream, so after work queued on blocking streams). */
    @Override
    public List<MemorySegment> contents() {
        return readBack(0);
    }

    /** Reads every layer back on {@code stream}, after the work queued on it. */
    public List<MemorySegment> readBack(long stream) {
        for (int l = 0; l < device.length; l++) {
            memory.download(device[l], host.layers.get(l), layout.layerCacheBytes(), stream);
        }
        memory.synchronize(stream);
        return host.layers;
    }

    @Override
    public byte[] rows(long[] slots, int from, int to) {
        readBack(0);
        return host.rows(slots, from, to);
    }

    /**
     * What a forward pass does: writes fresh KV for tokens [from, to) at their slots, on
     * {@code stream}, one copy per layer (the layers of a model run one after another). Returns
     * the rows written, in {@link #rows} order.
     */
    public byte[] writeRows(long[] slots, int from, int to, long seed, long stream) {
        return writeRows(slots, from, to, seed, stream, () -> { });
    }

    /** As {@link #writeRows(long[], int, int, long, long)}, after queuing {@code compute} on the stream first. */
    public byte[] writeRows(long[] slots, int from, int to, long seed, long stream, Runnable compute) {
        readBack(stream);
        compute.run();
        Random rnd = new Random(seed);
        int row = (int) layout.rowBytes();
        byte[] bytes = new byte[row];
        for (int l = 0; l < device.length; l++) {
            for (int p = 0; p < layout.format().planes(); p++) {
                for (int t = from; t < to; t++) {
                    if (slots[t] >= 0) {
                        rnd.nextBytes(bytes);
                        MemorySegment.copy(bytes, 0, host.layers.get(l), java.lang.foreign.ValueLayout.JAVA_BYTE,
                                view.offset(p, slots[t]), row);
                    }
                }
            }
        }
        byte[] written = host.rows(slots, from, to);
        for (int l = 0; l < device.length; l++) {
            memory.upload(host.layers.get(l), device[l], layout.layerCacheBytes(), stream);
        }
        return written;
    }

    /** The test freed layer {@code l} itself (to fault the engine): close must not free it again. */
    public void forgetLayer(int l) {
        device[l] = 0;
    }

    /** Frees everything, each step on its own: after a device fault (sticky) the frees fail, the rest still goes. */
    @Override
    public void close() {
        RuntimeException first = null;
        for (long d : device) {
            if (d != 0) {
                try {
                    memory.free(d);
                } catch (RuntimeException e) {
                    first = first == null ? e : first;
                }
            }
        }
        if (host != null) {
            host.close();
        }
        memory.close();
        if (first != null) {
            throw first;
        }
    }
}
