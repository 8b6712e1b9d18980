package org.lmcache4j.cli;

import org.lmcache4j.CudaStream;
import org.lmcache4j.KvLayout;
import org.lmcache4j.transfer.DeviceMemory;
import org.lmcache4j.transfer.PagedCaches;

import java.lang.foreign.MemorySegment;

/**
 * A {@link ServingEngine} on a CUDA device: the paged caches in device memory (allocated through
 * the driver, as torch does), a page-locked host mirror of them where the replay's model writes
 * and checks KV, and a stream of its own that the "forward pass" runs on. Rows go to the device
 * and back one block run at a time on that stream, so the engine's copies are only right if they
 * are ordered with it.
 */
final class DeviceServingEngine implements ServingEngine {
    private final HostServingEngine mirror;
    private final DeviceMemory memory;
    private final long[] device;
    private final long stream;
    private int pinned;

    DeviceServingEngine(KvLayout layout, long seed, int deviceId) {
        this.mirror = new HostServingEngine(layout, seed);
        try {
            this.memory = new DeviceMemory(deviceId);
        } catch (RuntimeException e) {
            mirror.close();
            throw e;
        }
        this.device = new long[layout.numLayers()];
        long stream = 0;
        try {
            for (int l = 0; l < device.length; l++) {
                device[l] = memory.allocate(layout.layerCacheBytes());
            }
            for (MemorySegment layer : mirror.layers()) {
                memory.pin(layer);
                pinned++;
            }
            stream = memory.createStream();
        } catch (RuntimeException e) {
            this.stream = stream;
            close();
            throw e;
        }
        this.stream = stream;
    }

    String deviceName() {
        return memory.name();
    }

    @Override
    public PagedCaches hostView() {
        return mirror.hostView();
    }

    @Override
    public long[] addresses() {
        return device.clone();
    }

    @Override
    public int device() {
        return memory.device();
    }

    @Override
    public String deviceLabel() {
        return "cuda:" + memory.device();
    }

    @Override
    public CudaStream stream() {
        return new CudaStream(stream);
    }

    @Override
    public long[] allocate(int tokens) {
        return mirror.allocate(tokens);
    }

    @Override
    public void free(long[] slots) {
        mirror.free(slots);
    }

    @Override
    public void toDevice(long[] slots, int from, int to) {
        move(slots, from, to, true);
    }

    @Override
    public void fromDevice(long[] slots, int from, int to) {
        move(slots, from, to, false);
        settle(); // the mirror is page-locked: the copies land only when the stream reaches them
    }

    /** One copy per layer, plane and run of a block's tokens; slots come from whole blocks. */
    private void move(long[] slots, int from, int to, boolean up) {
        PagedCaches host = mirror.hostView();
        KvLayout layout = host.layout();
        long row = layout.rowBytes();
        int t = from;
        while (t < to) {
            int end = t + 1;
            while (end < to && slots[end] == slots[t] + (end - t) && slots[end] % layout.blockSize() != 0) {
                end++;
            }
            for (int l = 0; l < device.length; l++) {
                for (int p = 0; p < layout.format().planes(); p++) {
                    long offset = host.offset(p, slots[t]);
                    long bytes = (end - t) * row;
                    MemorySegment rows = host.layer(l).asSlice(offset, bytes);
                    if (up) {
                        memory.upload(rows, device[l] + offset, bytes, stream);
                    } else {
                        memory.download(device[l] + offset, rows, bytes, stream);
                    }
                }
            }
            t = end;
        }
    }

    @Override
    public void settle() {
        memory.synchronize(stream);
    }

    @Override
    public void close() {
        if (stream != 0) {
            memory.synchronize(stream);
            memory.destroyStream(stream);
        }
        for (int l = 0; l < pinned; l++) {
            memory.unpin(mirror.layers().get(l));
        }
        for (long d : device) {
            if (d != 0) {
                memory.free(d);
            }
        }
        memory.close();
        mirror.close();
    }
}
