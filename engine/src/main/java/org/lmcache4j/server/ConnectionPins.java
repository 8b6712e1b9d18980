package org.lmcache4j.server;

import org.lmcache4j.CacheEngine;

import java.util.HashSet;
import java.util.Set;

/**
 * One connection's pins. The engine's pins are keyed by request id; a connection's ids are
 * prefixed with its number, so that clients cannot unpin (or replace) each other's, and the
 * connection remembers which it pinned so that it can release them all when it ends.
 */
final class ConnectionPins {
    private final String prefix;
    private final Set<String> pinned = new HashSet<>();

    ConnectionPins(long connection) {
        this.prefix = "client-" + connection + "/";
    }

    /** The engine's id for this connection's request {@code requestId}; refused as the engine refuses it. */
    String engineId(String requestId) {
        if (requestId == null || requestId.isEmpty()) {
            throw new IllegalArgumentException("request id must not be empty");
        }
        return prefix + requestId;
    }

    /** Notes that the engine may hold pins under {@code engineId} now. */
    void pinned(String engineId) {
        pinned.add(engineId);
    }

    /** Releases a request's pins; returns the chunks that were pinned. */
    int unpin(CacheEngine engine, String engineId) {
        pinned.remove(engineId);
        return engine.unpin(engineId);
    }

    /** Releases every pin this connection may hold; returns the chunks that were pinned. */
    int releaseAll(CacheEngine engine) {
        int released = 0;
        for (String id : pinned) {
            released += engine.unpin(id);
        }
        pinned.clear();
        return released;
    }
}
