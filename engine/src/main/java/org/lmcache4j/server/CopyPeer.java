package org.lmcache4j.server;

import java.util.List;

/**
 * The client a request's copies are for: it receives them, runs them in its own memory, and says
 * when they are done. Implemented by {@link ClientConnection}; {@link ClientTransfer} finds the one
 * of the request it runs ({@link ClientTransfer#PEER}).
 */
interface CopyPeer {
    /**
     * Has the client run {@code ops}, and returns once it says they landed. Throws
     * {@link ClientCopyFailed} when it says they did not, and {@link java.io.UncheckedIOException}
     * when the connection is gone: either way the client no longer copies.
     */
    void copy(List<CopyOp> ops);

    /** The client's device caches, which the server copies itself; {@link DeviceCaches#NONE} for host caches. */
    default DeviceCaches deviceCaches() {
        return DeviceCaches.NONE;
    }
}
