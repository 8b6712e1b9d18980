package org.lmcache4j.server;

import org.lmcache4j.CacheEngine;
import org.lmcache4j.KeyScope;
import org.lmcache4j.LookupHit;
import org.lmcache4j.bridge.AbiAnswers;

import java.util.function.Supplier;

/**
 * Runs one client request on the server's engine: what the C ABI's call of the same name does in
 * an embedded engine, read from the message's body and answered as RESULT values and text
 * ({@link WireProtocol}, lmcache4j_wire.h). A value the engine refuses throws as the engine
 * throws; the connection turns it into an ERROR with the C ABI's status and message.
 */
final class Requests {
    /** A RESULT's values and text. */
    record Answer(long[] values, String text) {
        static Answer of(long... values) {
            return new Answer(values, "");
        }

        static Answer text(String text) {
            return new Answer(new long[0], text);
        }
    }

    /** A lookup's or prefetch's body: the scope, the request to pin for (its engine id, or null), the tokens. */
    record Prompt(KeyScope scope, String pinFor, int[] tokens) {
    }

    /** A store's or retrieve's body (whole or layer by layer), checked as the C ABI checks it. */
    record Copying(KeyScope scope, int skipLeading, int[] tokens, long[] slots) {
    }

    private final CacheEngine engine;
    private final ConnectionPins pins;
    private final OpenOperations open;
    private final Supplier<DeviceCaches> device;

    /** {@code device}: the connection's device caches at the time of each request (their slots are checked here). */
    Requests(CacheEngine engine, ConnectionPins pins, Supplier<DeviceCaches> device) {
        this.engine = engine;
        this.pins = pins;
        this.open = new OpenOperations(engine, pins);
        this.device = device;
    }

    CacheEngine engine() {
        return engine;
    }

    /** Gives up the connection's prefetches and layer-by-layer operations (it ends). */
    void closeAll() {
        open.closeAll();
    }

    /** Answers a request of {@code type}; throws {@link UnsupportedOperationException} for a type this version does not serve. */
    Answer answer(int type, WireReader r) {
        return switch (type) {
            case WireProtocol.LOOKUP, WireProtocol.LOOKUP_TIERS -> lookup(type, r);
            case WireProtocol.STORE, WireProtocol.RETRIEVE -> copying(type, r);
            case WireProtocol.UNPIN -> {
                String id = r.nullableString();
                r.end();
                yield Answer.of(pins.unpin(engine, pins.engineId(id)));
            }
            case WireProtocol.STATS -> empty(r, Answer.of(AbiAnswers.statsFields(engine.stats())));
            case WireProtocol.CONFIG_JSON -> empty(r, Answer.text(AbiAnswers.configJson(engine.config())));
            case WireProtocol.METRICS_TEXT -> empty(r, Answer.text(engine.metricsText()));
            case WireProtocol.METRICS_JSON -> empty(r, Answer.text(engine.metricsJson()));
            case WireProtocol.COUNT_PROMPT -> {
                long prompt = r.i64();
                long hit = r.i64();
                r.end();
                engine.countPrompt(narrow(prompt, "prompt tokens"), narrow(hit, "vLLM hit tokens"));
                yield Answer.of();
            }
            case WireProtocol.CLEAR -> {
                r.end();
                engine.clear();
                yield Answer.of();
            }
            default -> open.answer(type, r); // prefetches and layer-by-layer operations
        };
    }

    private Answer lookup(int type, WireReader r) {
        Prompt p = prompt(r, pins);
        if (type == WireProtocol.LOOKUP) {
            return Answer.of(p.pinFor() == null ? engine.lookup(p.scope(), p.tokens())
                    : engine.lookupAndPin(p.pinFor(), p.scope(), p.tokens()));
        }
        LookupHit hit = engine.lookupHit(p.pinFor(), p.scope(), p.tokens());
        return Answer.of(hit.tokens(), hit.poolTokens());
    }

    /** Reads a LOOKUP's (or PREFETCH's) body; a request to pin for is noted as the connection's. */
    static Prompt prompt(WireReader r, ConnectionPins pins) {
        KeyScope scope = scope(r);
        String requestId = r.nullableString();
        int[] tokens = r.ints();
        r.end();
        String pinFor = requestId == null ? null : pins.engineId(requestId);
        if (pinFor != null) {
            pins.pinned(pinFor);
        }
        return new Prompt(scope, pinFor, tokens);
    }

    /** A store or retrieve: the engine's own, whose copies the client runs ({@link ClientTransfer}). */
    private Answer copying(int type, WireReader r) {
        Copying c = copying(r);
        device.get().checkSlots(c.slots()); // the server itself writes device caches: their range is its to check
        return Answer.of(type == WireProtocol.STORE ? engine.store(c.scope(), c.tokens(), c.slots(), c.skipLeading())
                : engine.retrieve(c.scope(), c.tokens(), c.slots(), c.skipLeading()));
    }

    /** Reads a STORE's (RETRIEVE's, STORE_LAYERS', RETRIEVE_LAYERS') body. */
    static Copying copying(WireReader r) {
        KeyScope scope = scope(r);
        long skip = r.i64();
        int[] tokens = r.ints();
        long[] slots = r.longs();
        r.end();
        if (slots.length != tokens.length) {
            throw new IllegalArgumentException("slot_mapping has " + slots.length + " entries for " + tokens.length
                    + " tokens");
        }
        if (skip < 0 || skip > Integer.MAX_VALUE) { // the engine checks the rest, as for an embedded caller
            throw new IllegalArgumentException("skip_leading " + Long.toUnsignedString(skip) + " is outside 0.."
                    + tokens.length);
        }
        return new Copying(scope, (int) skip, tokens, slots);
    }

    private static KeyScope scope(WireReader r) {
        String salt = r.nullableString();
        String adapter = r.nullableString();
        return salt == null && adapter == null ? KeyScope.NONE : new KeyScope(salt, adapter);
    }

    private static Answer empty(WireReader r, Answer a) {
        r.end();
        return a;
    }

    private static int narrow(long v, String name) {
        if (v < Integer.MIN_VALUE || v > Integer.MAX_VALUE) {
            throw new IllegalArgumentException(name + " " + v + " must be under 2^31");
        }
        return (int) v;
    }
}
