package org.lmcache4j;

import org.lmcache4j.memory.PageLease;

import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Pins taken by lookups, by request: each pin is a lease on a hit chunk's page, so the chunk can
 * be neither evicted nor freed until the request retrieves it, unpins it, or the pin expires.
 *
 * <p>Every pin lives exactly {@code timeoutNanos}, so insertion order is expiry order and a
 * linked map is the whole priority queue. A second lookup for the same request replaces its
 * pins (a scheduler may ask about a request many times before it runs), which is what keeps
 * repeated lookups from leaking, the failure LMCache users report most.
 *
 * <p>Not thread-safe: the engine guards it with its index lock.
 */
final class PinTable {
    private record Pins(List<PageLease> leases, long deadline) {
    }

    private final Map<String, Pins> byRequest = new LinkedHashMap<>();
    private final long timeoutNanos;
    private int pinnedChunks;

    PinTable(long timeoutNanos) {
        this.timeoutNanos = timeoutNanos;
    }

    /** Pins {@code leases} for {@code requestId} until {@code now + timeout}, replacing its earlier pins. */
    void pin(String requestId, List<PageLease> leases, long now) {
        unpin(requestId);
        if (!leases.isEmpty()) {
            byRequest.put(requestId, new Pins(List.copyOf(leases), now + timeoutNanos));
            pinnedChunks += leases.size();
        }
    }

    /** Releases the request's pins; returns how many chunks were pinned. */
    int unpin(String requestId) {
        Pins pins = byRequest.remove(requestId);
        return pins == null ? 0 : release(pins);
    }

    /** Releases every pin whose time is up; returns how many chunks that unpinned. */
    int expire(long now) {
        int released = 0;
        Iterator<Pins> it = byRequest.values().iterator();
        while (it.hasNext()) {
            Pins pins = it.next();
            if (pins.deadline - now > 0) {
                break;
            }
            it.remove();
            released += release(pins);
        }
        return released;
    }

    /** Releases every pin; returns how many chunks were pinned. */
    int releaseAll() {
        int released = 0;
        for (Pins pins : byRequest.values()) {
            released += release(pins);
        }
        byRequest.clear();
        return released;
    }

    int pinnedChunks() {
        return pinnedChunks;
    }

    private int release(Pins pins) {
        for (PageLease lease : pins.leases) {
            lease.close();
        }
        pinnedChunks -= pins.leases.size();
        return pins.leases.size();
    }
}
