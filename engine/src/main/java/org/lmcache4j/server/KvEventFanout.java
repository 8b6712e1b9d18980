package org.lmcache4j.server;

import org.lmcache4j.CacheEngine;
import org.lmcache4j.KvEvent;
import org.lmcache4j.KvEventQueue;
import org.lmcache4j.bridge.KvEventRecords;

import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.WeakHashMap;

/**
 * The KV events of a server's engine, for every client that records them. The engine's cache is
 * the node's: whichever client stored a chunk, every client's serving engine can hit it, so each
 * client that records events (its vLLM reports them to a KV-aware router) gets all of them, from
 * the moment it started recording, in a bounded queue of its own (a client that never takes them
 * loses its own, counted as one LOST event, as an embedded engine's queue does; the others keep
 * theirs). The engine records while at least one client does; each take first moves what the
 * engine recorded into every client's queue.
 */
final class KvEventFanout {
    private static final Map<CacheEngine, KvEventFanout> BY_ENGINE = Collections.synchronizedMap(new WeakHashMap<>());
    /** The most bytes of records one TAKE_KV_EVENTS answers, whatever the client's buffer holds. */
    private static final long MAX_TAKE_BYTES = WireProtocol.MAX_BODY / 4;

    private final CacheEngine engine;
    private final Map<Object, KvEventQueue> recording = new HashMap<>();

    private KvEventFanout(CacheEngine engine) {
        this.engine = engine;
    }

    /** The fan-out of {@code engine}'s events, shared by all its connections. */
    static KvEventFanout of(CacheEngine engine) {
        return BY_ENGINE.computeIfAbsent(engine, KvEventFanout::new);
    }

    /** Starts or stops recording for {@code client}; stopping drops the events it has not taken. */
    synchronized void record(Object client, boolean on) {
        spread(); // what happened before this call is not the new client's, and is still the others'
        if (on) {
            recording.computeIfAbsent(client, c -> {
                KvEventQueue q = new KvEventQueue(KvEventQueue.DEFAULT_CAPACITY);
                q.record(true);
                return q;
            });
        } else {
            recording.remove(client);
        }
        engine.recordKvEvents(!recording.isEmpty());
    }

    /**
     * Takes {@code client}'s oldest events that fit in {@code capacity} bytes of records: RESULT
     * values {@code [bytes, records packed 8 bytes to a value, little-endian, the last padded]}.
     */
    synchronized long[] take(Object client, long capacity) {
        KvEventQueue q = recording.get(client);
        if (q == null) {
            return new long[] {0}; // not recording: nothing waits, as embedded
        }
        spread();
        List<KvEvent> events = q.take(Math.min(capacity, MAX_TAKE_BYTES), KvEventRecords::bytes);
        long bytes = events.stream().mapToLong(KvEventRecords::bytes).sum();
        byte[] records = new byte[(int) ((bytes + 7) / 8 * 8)];
        KvEventRecords.write(events, MemorySegment.ofArray(records));
        long[] values = new long[1 + records.length / 8];
        values[0] = bytes;
        ByteBuffer.wrap(records).order(ByteOrder.LITTLE_ENDIAN).asLongBuffer().get(values, 1, records.length / 8);
        return values;
    }

    /** Moves the engine's recorded events into every recording client's queue. */
    private void spread() {
        if (recording.isEmpty()) {
            return;
        }
        for (KvEvent e : engine.takeKvEvents(Long.MAX_VALUE, e -> 1)) {
            for (KvEventQueue q : recording.values()) {
                q.offer(e);
            }
        }
    }
}
