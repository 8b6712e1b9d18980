package org.lmcache4j.server;

import org.lmcache4j.transfer.IpcCaches;

import java.util.ArrayList;
import java.util.List;

/**
 * A REGISTER_DEVICE_CACHES body (lmcache4j_wire.h): the CUDA device of the client's caches and,
 * per layer, the IPC handle of the allocation that holds it, its offset there and the
 * allocation's size.
 *
 * <pre>
 * body     0  4  i32 device · 4 4 reserved · 8 4 u32 count · 12  count × layer
 * layer    0 64  CUipcMemHandle · 64 8 u64 offset · 72 8 u64 allocation bytes      (DEVICE_LAYER_BYTES)
 * </pre>
 */
record DeviceRegistration(int device, List<IpcCaches.Layer> layers) {

    static DeviceRegistration read(WireReader r) {
        int device = r.i32();
        r.i32(); // reserved
        int n = r.arrayCount(WireProtocol.DEVICE_LAYER_BYTES);
        List<IpcCaches.Layer> layers = new ArrayList<>(n);
        for (int i = 0; i < n; i++) {
            byte[] handle = r.bytes(WireProtocol.IPC_HANDLE_BYTES);
            long offset = r.i64();
            r.i64(); // the allocation's size: the server asks its driver instead
            if (offset < 0) {
                throw new IllegalArgumentException("layer " + i + "'s offset " + Long.toUnsignedString(offset)
                        + " is past any allocation");
            }
            layers.add(new IpcCaches.Layer(handle, offset));
        }
        r.end();
        return new DeviceRegistration(device, layers);
    }
}
