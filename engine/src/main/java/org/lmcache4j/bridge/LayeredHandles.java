package org.lmcache4j.bridge;

import org.lmcache4j.LayeredOperation;

/**
 * The layer-by-layer stores and retrieves opened through the C ABI ({@code lmcache4j_store_layers},
 * {@code lmcache4j_retrieve_layers}), by handle (see {@link CallerHandles}), each valid until
 * {@code lmcache4j_close_layers} or its engine's close; any other handle is a wrong argument. A
 * handle the caller forgets costs nothing past its engine's close: the engine gives the operation
 * up and {@link #dropEngine} forgets it.
 */
final class LayeredHandles extends CallerHandles<LayeredOperation> {
    LayeredHandles() {
        super("operation", LayeredOperation::close);
    }

    LayeredOperation get(long engine, long handle) {
        Entry<LayeredOperation> e = entry(handle);
        if (e == null || e.engine() != engine) {
            throw unknown(engine, handle);
        }
        return e.value();
    }

    /** Forgets the handle and returns its operation (the caller closes it). */
    LayeredOperation remove(long engine, long handle) {
        Entry<LayeredOperation> e = entry(handle);
        if (e == null || e.engine() != engine || !remove(handle, e)) {
            throw unknown(engine, handle);
        }
        return e.value();
    }

    /** Forgets every handle of a closed engine (the engine has given their operations up). */
    void dropEngine(long engine) {
        forgetEngine(engine, false);
    }

    private IllegalArgumentException unknown(long engine, long handle) {
        return new IllegalArgumentException(handle + " is not an open layer-by-layer operation of engine " + engine
                + (issued(handle) ? " (closed already, or another engine's)" : ""));
    }
}
