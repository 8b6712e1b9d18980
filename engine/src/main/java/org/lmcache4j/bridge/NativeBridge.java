package org.lmcache4j.bridge;

import org.lmcache4j.CacheEngine;
import org.lmcache4j.CudaStream;
import org.lmcache4j.EngineConfig;
import org.lmcache4j.KeyScope;
import org.lmcache4j.KvDtype;
import org.lmcache4j.KvFormat;
import org.lmcache4j.KvLayout;
import org.lmcache4j.Prefetch;
import org.lmcache4j.metrics.MetricsRegistry;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.Callable;

/**
 * The entry points {@code liblmcache4j.so} calls through JNI, one per C ABI function. Each takes
 * primitives and addresses, and returns a non-negative result or a negated
 * {@link NativeStatus} code, leaving the message for {@link #takeError} on the same thread.
 * Nothing is thrown to the caller. The JNI signatures in {@code native/src/bridge.c} must match.
 */
final class NativeBridge {
    /** The C ABI version this bridge implements: {@code LMCACHE4J_ABI_VERSION} in lmcache4j.h. */
    static final int ABI_VERSION = 5;

    private static final Logger LOG = LoggerFactory.getLogger(NativeBridge.class);
    private static final EngineHandles HANDLES = new EngineHandles();
    private static final ThreadLocal<String> LAST_ERROR = new ThreadLocal<>();
    private static final LayeredHandles LAYERED = new LayeredHandles();

    private NativeBridge() {
    }

    static int abiVersion() {
        return ABI_VERSION;
    }

    /** The engines opened through the bridge, for the benchmarks' Java baselines. */
    static EngineHandles handles() {
        return HANDLES;
    }

    static long open(long configPath, int configPathLen, long overrides, int overridesLen,
                     int numLayers, int numKvHeads, int headSize, long dtype, int dtypeLen,
                     int blockSize, int numBlocks, long format, int formatLen,
                     long model, int modelLen, int worldSize, int rank) {
        return call(0, () -> {
            KvLayout layout = new KvLayout(numLayers, numKvHeads, headSize,
                    KvDtype.parse(NativeMemory.text(dtype, dtypeLen, "dtype")), blockSize, numBlocks,
                    KvFormat.parse(NativeMemory.text(format, formatLen, "kv_format")));
            EngineConfig config = ConfigOverlay.load(NativeMemory.text(configPath, configPathLen, "config path"),
                    NativeMemory.text(overrides, overridesLen, "settings"), System.getenv());
            String modelName = NativeMemory.text(model, modelLen, "model");
            CacheEngine engine = CacheEngine.builder().config(config).layout(layout)
                    .model(modelName == null || modelName.isEmpty() ? "default" : modelName)
                    .parallel(worldSize, rank)
                    .metrics(new MetricsRegistry()) // its own: no endpoint here, the Python mirror reads metricsJson
                    .open();
            return HANDLES.add(engine);
        });
    }

    static long registerKvCaches(long handle, long addresses, int count, int device) {
        return call(handle, () -> {
            CacheEngine engine = HANDLES.get(handle);
            // -1 host, a CUDA device id, or -2: the driver says (the selector refuses a wrong claim).
            engine.registerKvCaches(NativeMemory.longs(addresses, count, "layer addresses"), device);
            return 0;
        });
    }

    static long lookup(long handle, long salt, int saltLen, long adapter, int adapterLen,
                       long tokens, int n, long requestId, int requestIdLen) {
        return call(handle, () -> {
            CacheEngine engine = HANDLES.get(handle);
            Prompt p = Prompt.read(salt, saltLen, adapter, adapterLen, tokens, n, requestId, requestIdLen);
            return p.pinFor() == null ? engine.lookup(p.scope(), p.tokens())
                    : engine.lookupAndPin(p.pinFor(), p.scope(), p.tokens());
        });
    }

    static long store(long handle, long salt, int saltLen, long adapter, int adapterLen,
                      long tokens, long slotMapping, int n, int skipLeading, long stream) {
        return call(handle, () -> HANDLES.get(handle).store(scope(salt, saltLen, adapter, adapterLen),
                NativeMemory.ints(tokens, n, "tokens"), NativeMemory.longs(slotMapping, n, "slot_mapping"),
                skipLeading, new CudaStream(stream)));
    }

    static long retrieve(long handle, long salt, int saltLen, long adapter, int adapterLen,
                         long tokens, long slotMapping, int n, int skipLeading, long stream) {
        return call(handle, () -> HANDLES.get(handle).retrieve(scope(salt, saltLen, adapter, adapterLen),
                NativeMemory.ints(tokens, n, "tokens"), NativeMemory.longs(slotMapping, n, "slot_mapping"),
                skipLeading, new CudaStream(stream)));
    }

    static long waitTransfers(long handle) {
        return call(handle, () -> {
            HANDLES.get(handle).awaitTransfers();
            return 0;
        });
    }

    static long unpin(long handle, long requestId, int requestIdLen) {
        return call(handle, () -> {
            CacheEngine engine = HANDLES.get(handle);
            String id = NativeMemory.text(requestId, requestIdLen, "request id");
            if (id == null || id.isEmpty()) {
                throw new IllegalArgumentException("request id must not be empty");
            }
            return engine.unpin(id);
        });
    }

    /** Writes up to {@code fields} counters, in {@code lmcache4j_stats} order; returns how many. */
    static long stats(long handle, long out, int fields) {
        return call(handle, () -> {
            long[] v = AbiAnswers.statsFields(HANDLES.get(handle).stats());
            int n = Math.max(0, Math.min(fields, v.length));
            if (n > 0) {
                NativeMemory.writeLongs(out, v, n);
            }
            return n;
        });
    }

    /**
     * Writes the effective configuration as JSON (LMCache's key names) into {@code capacity} bytes
     * at {@code out}; returns its full length in bytes, which may exceed what fitted.
     */
    static long configJson(long handle, long out, int capacity) {
        return call(handle, () -> {
            String json = AbiAnswers.configJson(HANDLES.get(handle).config());
            NativeMemory.writeText(json, out, capacity);
            return json.getBytes(java.nio.charset.StandardCharsets.UTF_8).length;
        });
    }

    static long recordKvEvents(long handle, int on) {
        return call(handle, () -> {
            HANDLES.get(handle).recordKvEvents(on != 0);
            return 0;
        });
    }

    /** Moves the oldest KV events that fit into the buffer ({@link KvEventRecords}); the bytes written. */
    static long takeKvEvents(long handle, long out, long capacity) {
        return call(handle, () -> {
            MemorySegment buffer = NativeMemory.output(out, capacity, "buf");
            return KvEventRecords.write(HANDLES.get(handle).takeKvEvents(capacity, KvEventRecords::bytes), buffer);
        });
    }

    /** Writes the engine's metrics as JSON ({@code text} false) or Prometheus text; as {@link #configJson}. */
    static long metrics(long handle, boolean text, long out, int capacity) {
        return call(handle, () -> {
            CacheEngine engine = HANDLES.get(handle);
            String body = text ? engine.metricsText() : engine.metricsJson();
            NativeMemory.writeText(body, out, capacity);
            return body.getBytes(java.nio.charset.StandardCharsets.UTF_8).length;
        });
    }

    static long countPrompt(long handle, int promptTokens, int vllmHitTokens) {
        return call(handle, () -> {
            HANDLES.get(handle).countPrompt(promptTokens, vllmHitTokens);
            return 0;
        });
    }

    static long clear(long handle) {
        return call(handle, () -> {
            HANDLES.get(handle).clear();
            return 0;
        });
    }

    static long close(long handle) {
        return call(handle, () -> {
            try {
                HANDLES.close(handle);
                PREFETCHES.forgetEngine(handle);
            } finally {
                LAYERED.dropEngine(handle);
            }
            return 0;
        });
    }

    /** Serves lookups for the engine on a Unix socket at {@code path} (see {@link LookupServer}). */
    static long serveLookups(long handle, long path, int pathLen) {
        return call(handle, () -> {
            String p = NativeMemory.text(path, pathLen, "socket path");
            if (p == null || p.isEmpty()) {
                throw new IllegalArgumentException("socket path must be given");
            }
            HANDLES.serve(handle, Path.of(p));
            return 0;
        });
    }

    // ------------------------------------------------------------ prefetch (C ABI version 4)

    private static final PrefetchHandles PREFETCHES = new PrefetchHandles();

    /** The prefetches started through the bridge, for tests. */
    static PrefetchHandles prefetches() {
        return PREFETCHES;
    }

    /** Starts a prefetch (pinned for the request when one is given); returns its handle. */
    static long prefetch(long handle, long salt, int saltLen, long adapter, int adapterLen,
                         long tokens, int n, long requestId, int requestIdLen) {
        return call(handle, () -> {
            CacheEngine engine = HANDLES.get(handle);
            Prompt p = Prompt.read(salt, saltLen, adapter, adapterLen, tokens, n, requestId, requestIdLen);
            return PREFETCHES.add(handle, p.pinFor() == null ? engine.prefetch(p.scope(), p.tokens())
                    : engine.prefetchAndPin(p.pinFor(), p.scope(), p.tokens()), HANDLES::isOpen);
        });
    }

    /**
     * A lookup (pinned for the request when one is given) answering also the hit's tokens in the
     * CPU pool, packed as the lookup socket packs them ({@link LookupServer#packed}).
     */
    static long lookupTiers(long handle, long salt, int saltLen, long adapter, int adapterLen,
                            long tokens, int n, long requestId, int requestIdLen) {
        return call(handle, () -> {
            CacheEngine engine = HANDLES.get(handle);
            Prompt p = Prompt.read(salt, saltLen, adapter, adapterLen, tokens, n, requestId, requestIdLen);
            return LookupServer.packed(engine.lookupHit(p.pinFor(), p.scope(), p.tokens()));
        });
    }

    /** The prefetch's state and ready tokens, packed: {@code readyTokens << 3 | state ordinal}. */
    static long prefetchState(long handle, long prefetch) {
        return call(handle, () -> {
            HANDLES.get(handle);
            Prefetch p = PREFETCHES.get(handle, prefetch);
            Prefetch.State state = p.state(); // read first: a final state's ready tokens are already set
            return (long) p.readyTokens() << 3 | state.ordinal();
        });
    }

    /** 1 if the prefetch has finished within {@code timeoutMs}, else 0. */
    static long prefetchAwait(long handle, long prefetch, long timeoutMs) {
        return call(handle, () -> {
            HANDLES.get(handle);
            Prefetch p = PREFETCHES.get(handle, prefetch);
            if (timeoutMs < 0) {
                throw new IllegalArgumentException("timeout_ms " + timeoutMs + " must not be negative");
            }
            return p.await(Duration.ofMillis(timeoutMs)) ? 1 : 0;
        });
    }

    /** 1 if this call stopped the prefetch, 0 if it had finished (or was finishing). */
    static long prefetchCancel(long handle, long prefetch) {
        return call(handle, () -> {
            HANDLES.get(handle);
            return PREFETCHES.get(handle, prefetch).cancel() ? 1 : 0;
        });
    }

    static long prefetchClose(long handle, long prefetch) {
        return call(handle, () -> {
            HANDLES.get(handle);
            PREFETCHES.close(handle, prefetch);
            return 0;
        });
    }

    // --- layerwise: lmcache4j_store_layers, lmcache4j_retrieve_layers, lmcache4j_copy_layer, lmcache4j_await_layer,
    //     lmcache4j_close_layers

    /** Plans a layer-by-layer store; writes its tokens at {@code outTokens}; returns its handle. */
    static long storeLayers(long handle, long salt, int saltLen, long adapter, int adapterLen,
                            long tokens, long slotMapping, int n, int skipLeading, long stream, long outTokens) {
        return openLayers(false, handle, salt, saltLen, adapter, adapterLen, tokens, slotMapping, n, skipLeading,
                stream, outTokens);
    }

    /** Brings the prefix into the pool for a layer-by-layer retrieve; writes its tokens; returns its handle. */
    static long retrieveLayers(long handle, long salt, int saltLen, long adapter, int adapterLen,
                               long tokens, long slotMapping, int n, int skipLeading, long stream, long outTokens) {
        return openLayers(true, handle, salt, saltLen, adapter, adapterLen, tokens, slotMapping, n, skipLeading,
                stream, outTokens);
    }

    private static long openLayers(boolean retrieve, long handle, long salt, int saltLen, long adapter, int adapterLen,
                                   long tokens, long slotMapping, int n, int skipLeading, long stream, long outTokens) {
        return call(handle, () -> {
            NativeMemory.output(outTokens, Long.BYTES, "out_tokens");
            CacheEngine engine = HANDLES.get(handle);
            KeyScope scope = scope(salt, saltLen, adapter, adapterLen);
            int[] t = NativeMemory.ints(tokens, n, "tokens");
            long[] slots = NativeMemory.longs(slotMapping, n, "slot_mapping");
            CudaStream s = new CudaStream(stream);
            if (retrieve) {
                var op = engine.retrieveLayers(scope, t, slots, skipLeading, s);
                NativeMemory.writeLongs(outTokens, new long[] {op.tokens()}, 1);
                return LAYERED.add(handle, op, HANDLES::isOpen);
            }
            var op = engine.storeLayers(scope, t, slots, skipLeading, s);
            NativeMemory.writeLongs(outTokens, new long[] {op.tokens()}, 1);
            return LAYERED.add(handle, op, HANDLES::isOpen);
        });
    }

    /** Copies the next layer of a layered operation (a store saves it, a retrieve loads it). */
    static long copyLayer(long handle, long op, int layer) {
        return call(handle, () -> {
            HANDLES.get(handle);
            switch (LAYERED.get(handle, op)) {
                case org.lmcache4j.LayeredStore s -> s.saveLayer(layer);
                case org.lmcache4j.LayeredRetrieve r -> r.loadLayer(layer);
            }
            return 0;
        });
    }

    /** Makes the operation's stream wait for one layer's copies. */
    static long awaitLayer(long handle, long op, int layer) {
        return call(handle, () -> {
            HANDLES.get(handle);
            LAYERED.get(handle, op).awaitLayer(layer);
            return 0;
        });
    }

    /** Closes a layered operation (given up if layers are missing); returns the layers it copied. */
    static long closeLayers(long handle, long op) {
        return call(handle, () -> {
            HANDLES.get(handle);
            var o = LAYERED.remove(handle, op);
            o.close();
            return o.nextLayer();
        });
    }

    /**
     * Copies the message of this thread's last failure into {@code capacity} bytes at
     * {@code buffer} (UTF-8, NUL-terminated, cut to fit) and forgets it; returns the bytes written.
     */
    static int takeError(long buffer, int capacity) {
        String message = LAST_ERROR.get();
        LAST_ERROR.remove();
        try {
            return NativeMemory.writeText(message == null ? "" : message, buffer, capacity);
        } catch (RuntimeException e) {
            return 0;
        }
    }

    /** A prompt as lookups and prefetches take it: its scope, tokens, and the request to pin for (or null). */
    private record Prompt(KeyScope scope, int[] tokens, String pinFor) {
        static Prompt read(long salt, int saltLen, long adapter, int adapterLen, long tokens, int n, long requestId,
                           int requestIdLen) {
            return new Prompt(NativeBridge.scope(salt, saltLen, adapter, adapterLen), NativeMemory.ints(tokens, n, "tokens"),
                    NativeMemory.text(requestId, requestIdLen, "request id"));
        }
    }

    private static KeyScope scope(long salt, int saltLen, long adapter, int adapterLen) {
        if (salt == 0 && adapter == 0) {
            return KeyScope.NONE;
        }
        return new KeyScope(NativeMemory.text(salt, saltLen, "cache_salt"), NativeMemory.text(adapter, adapterLen, "adapter"));
    }

    /** Runs {@code body}; a failure becomes −status, with its message kept for {@link #takeError}. */
    private static long call(long handle, Callable<? extends Number> body) {
        try {
            return body.call().longValue();
        } catch (Throwable t) {
            NativeStatus status = NativeStatus.of(t);
            if (status == NativeStatus.STATE && handle != 0 && !HANDLES.isOpen(handle)) {
                status = NativeStatus.CLOSED; // closed by another thread while this call ran
            }
            if (status == NativeStatus.INTERNAL) {
                LOG.error("LMCache4j native call failed", t);
            }
            LAST_ERROR.set(NativeStatus.message(t));
            return -status.code;
        }
    }
}
