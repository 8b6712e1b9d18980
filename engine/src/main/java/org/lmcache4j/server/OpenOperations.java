package org.lmcache4j.server;

import org.lmcache4j.CacheEngine;
import org.lmcache4j.CudaStream;
import org.lmcache4j.LayeredOperation;
import org.lmcache4j.LayeredRetrieve;
import org.lmcache4j.LayeredStore;
import org.lmcache4j.Prefetch;
import org.lmcache4j.server.Requests.Answer;

import java.time.Duration;
import java.util.HashMap;
import java.util.Map;

/**
 * One connection's prefetches and layer-by-layer operations (protocol version 2), by the handle
 * the server gave each: 1, 2, 3… on this connection, never reused. They run on the server's engine
 * exactly as the C ABI runs them in an embedded one ({@code bridge/NativeBridge}); a layer's copies
 * reach the client as a COPY through {@link ClientTransfer}, since the connection's thread runs
 * the call. When the connection ends ({@link #closeAll}) its prefetches are cancelled and closed
 * (their pins are the connection's and go with it) and its layered operations are given up: a
 * store that had not landed every layer publishes nothing, a retrieve frees its pages.
 *
 * <p>Also the connection's KV events ({@link KvEventFanout}): it records them as one client of the
 * node's engine, and stops when it ends.
 *
 * <p>Only the connection's thread uses it (one request at a time), so it needs no lock.
 */
final class OpenOperations {
    private final CacheEngine engine;
    private final ConnectionPins pins;
    private final KvEventFanout events;
    private final Map<Long, Prefetch> prefetches = new HashMap<>();
    private final Map<Long, LayeredOperation> layered = new HashMap<>();
    private long lastIssued;

    OpenOperations(CacheEngine engine, ConnectionPins pins) {
        this.engine = engine;
        this.pins = pins;
        this.events = KvEventFanout.of(engine);
    }

    /** Answers a KV events, prefetch or layer-by-layer request; any other type is one this version does not serve. */
    Answer answer(int type, WireReader r) {
        return switch (type) {
            case WireProtocol.RECORD_KV_EVENTS -> {
                int on = r.i32();
                r.end();
                events.record(this, on != 0);
                yield Answer.of();
            }
            case WireProtocol.TAKE_KV_EVENTS -> {
                long capacity = r.i64();
                r.end();
                yield Answer.of(events.take(this, capacity < 0 ? Long.MAX_VALUE : capacity)); // u64 past 2^63
            }
            case WireProtocol.PREFETCH -> {
                Requests.Prompt p = Requests.prompt(r, pins);
                Prefetch started = p.pinFor() == null ? engine.prefetch(p.scope(), p.tokens())
                        : engine.prefetchAndPin(p.pinFor(), p.scope(), p.tokens());
                yield Answer.of(issue(prefetches, started));
            }
            case WireProtocol.PREFETCH_STATE -> {
                Prefetch p = prefetch(r);
                Prefetch.State state = p.state(); // read first: a final state's ready tokens are already set
                yield Answer.of(state.ordinal(), p.readyTokens());
            }
            case WireProtocol.PREFETCH_AWAIT -> await(r);
            case WireProtocol.PREFETCH_CANCEL -> Answer.of(prefetch(r).cancel() ? 1 : 0);
            case WireProtocol.PREFETCH_CLOSE -> {
                long handle = handle(r, prefetches, "prefetch");
                r.end();
                prefetches.remove(handle).close();
                yield Answer.of();
            }
            case WireProtocol.STORE_LAYERS, WireProtocol.RETRIEVE_LAYERS -> {
                Requests.Copying c = Requests.copying(r);
                LayeredOperation op = type == WireProtocol.STORE_LAYERS
                        ? engine.storeLayers(c.scope(), c.tokens(), c.slots(), c.skipLeading(), CudaStream.DEFAULT)
                        : engine.retrieveLayers(c.scope(), c.tokens(), c.slots(), c.skipLeading(), CudaStream.DEFAULT);
                int tokens = op instanceof LayeredStore s ? s.tokens() : ((LayeredRetrieve) op).tokens();
                yield Answer.of(issue(layered, op), tokens);
            }
            case WireProtocol.COPY_LAYER -> {
                LayeredOperation op = layered.get(handle(r, layered, "layer-by-layer operation"));
                int layer = r.i32();
                r.end();
                switch (op) { // its COPY goes to this connection's client, whose thread runs the call
                    case LayeredStore s -> s.saveLayer(layer);
                    case LayeredRetrieve rt -> rt.loadLayer(layer);
                }
                yield Answer.of();
            }
            case WireProtocol.AWAIT_LAYER -> {
                LayeredOperation op = layered.get(handle(r, layered, "layer-by-layer operation"));
                int layer = r.i32();
                r.end();
                op.awaitLayer(layer);
                yield Answer.of();
            }
            case WireProtocol.CLOSE_LAYERS -> {
                long handle = handle(r, layered, "layer-by-layer operation");
                r.end();
                LayeredOperation op = layered.remove(handle);
                op.close();
                yield Answer.of(op.nextLayer());
            }
            default -> throw new UnsupportedOperationException("message type " + type + " is not a request of server"
                    + " protocol version " + WireProtocol.VERSION);
        };
    }

    /** Stops its KV events, cancels and closes every prefetch, gives up every layered operation: the connection ends. */
    void closeAll() {
        try {
            events.record(this, false);
        } catch (RuntimeException e) {
            // the engine closed meanwhile: its events went with it
        }
        prefetches.values().forEach(Prefetch::close);
        prefetches.clear();
        for (LayeredOperation op : layered.values()) {
            try {
                op.close();
            } catch (RuntimeException e) {
                // the engine closed meanwhile: it gave the operation up itself
            }
        }
        layered.clear();
    }

    private Answer await(WireReader r) {
        Prefetch p = prefetches.get(handle(r, prefetches, "prefetch"));
        long timeoutMs = r.i64();
        r.end();
        if (timeoutMs < 0) {
            throw new IllegalArgumentException("timeout_ms " + timeoutMs + " must not be negative");
        }
        try {
            return Answer.of(p.await(Duration.ofMillis(timeoutMs)) ? 1 : 0);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("the server stopped while the prefetch was awaited", e);
        }
    }

    private Prefetch prefetch(WireReader r) {
        Prefetch p = prefetches.get(handle(r, prefetches, "prefetch"));
        r.end();
        return p;
    }

    private <T> long issue(Map<Long, T> open, T value) {
        long handle = ++lastIssued;
        open.put(handle, value);
        return handle;
    }

    /** Reads a handle this connection has open in {@code open}; refuses any other. */
    private static long handle(WireReader r, Map<Long, ?> open, String noun) {
        long handle = r.i64();
        if (!open.containsKey(handle)) {
            throw new IllegalArgumentException(Long.toUnsignedString(handle) + " is not an open " + noun
                    + " of this connection");
        }
        return handle;
    }
}
