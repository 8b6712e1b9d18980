package org.lmcache4j;

import org.lmcache4j.transfer.TransferBatch;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A store or retrieve that copies one layer at a time ({@code use_layerwise}): planned once, then
 * {@link #copy layer i} as the serving engine reaches it, so that layer i's copy overlaps the
 * compute of the layers after it. Each layer is one {@code TransferBatch} of the registered
 * transfer ({@code KvTransfer.beginLayer}), ordered with the caller's stream as a whole-chunk
 * batch is.
 *
 * <pre>
 *   start ──▶ copy(0) ──▶ copy(1) ──▶ … ──▶ copy(L-1) ──(every layer landed)──▶ end(complete)
 *     │           └───── close() / a copy failing / re-registration / engine close ─────▶ end(incomplete)
 * </pre>
 *
 * It {@linkplain #end ends} exactly once, when no layer copy is in flight any more and either every
 * layer has been copied (complete) or it was given up: closed before its last layer, a layer
 * copy failed, the caches were registered anew, or the engine closed. Layers go in order, each
 * once. Thread-safe; a layer's copies may land on the transfer's completion thread.
 *
 * <p>On device caches a layer's copies are queued after the work already on the caller's stream,
 * but the stream waits for them only from {@link #awaitLayer} (or {@link #close}): a retrieve
 * copies layer i+1, then awaits layer i, so that layer i+1's copy runs beside layer i's attention.
 */
public abstract sealed class LayeredOperation implements AutoCloseable permits LayeredStore, LayeredRetrieve {
    private static final Logger LOG = LoggerFactory.getLogger(LayeredOperation.class);

    final CacheEngine engine;
    final CacheEngine.Registered registered;
    private final RequestOperation request;
    private final int layers;
    private int next;
    private int inFlight;
    private boolean failed;
    /** Why it was given up before its last layer, or null. */
    private String abandoned;
    private boolean ended;
    /** Each layer's batch once queued: the caller's stream waits for it from {@link #awaitLayer} or {@link #close}. */
    private final TransferBatch[] batches;

    LayeredOperation(CacheEngine engine, CacheEngine.Registered registered, RequestOperation request) {
        this.engine = engine;
        this.registered = registered;
        this.request = request;
        this.layers = engine.layout().numLayers();
        this.batches = new TransferBatch[layers];
    }

    /** Copies layer {@code layer} of every planned chunk into the batch (gathers or scatters). */
    abstract void copyLayer(TransferBatch batch);

    /** Whether there is anything to copy at all. */
    abstract boolean hasChunks();

    /** Runs once: {@code complete} when every layer landed; otherwise nothing may be served of it. */
    abstract void end(boolean complete);

    /** "layer-by-layer store" or "… retrieve", for messages. */
    abstract String what();

    /** The layers of the model: {@link #copy} takes 0 to this minus one, in order. */
    public int layers() {
        return layers;
    }

    /** The layer the next copy must name. */
    public synchronized int nextLayer() {
        return next;
    }

    /** Whether it has ended, complete or not; an ended operation copies nothing more. */
    public synchronized boolean ended() {
        return ended;
    }

    /** Whether every layer was copied and has landed without a failure. */
    public synchronized boolean complete() {
        return ended && abandoned == null && !failed && next == layers;
    }

    /**
     * Queues the copies of layer {@code layer}, which must be {@link #nextLayer()}. Returns once
     * they are queued (host copies: done). A layer out of order is refused and changes nothing; a
     * copy that fails gives the whole operation up (nothing of a store is published) and throws.
     */
    final void copy(int layer) {
        engine.guarded(() -> {
            copyGuarded(layer);
            return null;
        });
    }

    private void copyGuarded(int layer) {
        synchronized (this) {
            checkNext(layer);
        }
        if (engine.requireCaches() != registered) {
            abandon("the KV caches were registered anew since it began");
            throw new IllegalStateException("the KV caches were registered anew since this " + what()
                    + " began: it is given up, and layer " + layer + " is not copied");
        }
        // Claim the layer before copying it: another thread naming the same layer is refused, and a
        // close meanwhile ends the operation (freeing its pages) only once this copy has landed.
        synchronized (this) {
            checkNext(layer);
            next++;
            inFlight++;
        }
        if (!hasChunks()) {
            settleLayer(null);
            return;
        }
        TransferBatch batch;
        try {
            batch = registered.transfer().beginLayer(registered.caches(), request.slots, request.stream, layer);
            copyLayer(batch);
        } catch (RuntimeException | Error e) {
            unclaim(layer);
            landed(layer, e); // a batch dropped before its finish has queued nothing
            throw e;
        }
        synchronized (this) {
            batches[layer] = batch;
        }
        boolean[] ran = new boolean[1];
        try {
            batch.finishDeferred(failure -> {
                ran[0] = true;
                settleLayer(failure);
            });
        } catch (RuntimeException | Error e) {
            if (!ran[0]) {
                settleLayer(e); // queuing failed: finish waited for what it had queued
            }
            throw e;
        }
    }

    /** Refuses a copy of an ended or failed operation, or of a layer other than the next one; caller holds the lock. */
    private void checkNext(int layer) {
        if (ended || abandoned != null || failed) {
            throw new IllegalStateException("this " + what() + " has ended"
                    + (abandoned != null ? " (" + abandoned + ")" : failed ? " (a layer's copies failed)" : "")
                    + ": layer " + layer + " is not copied");
        }
        if (layer != next) {
            throw new IllegalArgumentException("layer " + layer + " is out of order: this " + what()
                    + " copies layers 0.." + (layers - 1) + " in order, and layer " + next + " is next");
        }
    }

    /** A claimed layer whose copies were never queued: not copied, and no longer in flight. */
    private synchronized void unclaim(int layer) {
        inFlight--;
        if (next == layer + 1) {
            next = layer; // nextLayer() counts the layers copied
        }
    }

    /**
     * Makes the caller's stream wait for layer {@code layer}'s copies, which {@link #copy} queued
     * without that wait: on device caches the work queued on the stream after this call (layer
     * i's attention) runs after them, while the copies of later layers queued already may still
     * run beside it. Host copies land in their call: nothing to do. {@link #close} waits for every
     * layer not awaited.
     */
    public void awaitLayer(int layer) {
        TransferBatch batch;
        synchronized (this) {
            if (layer < 0 || layer >= next) {
                throw new IllegalArgumentException("layer " + layer + " has not been copied: this " + what()
                        + " has copied layers 0.." + (next - 1));
            }
            batch = batches[layer];
            if (batch == null && hasChunks() && !failed) {
                // claimed by a copy still running on another thread: its batch is not queued yet
                throw new IllegalStateException("layer " + layer + " of this " + what()
                        + " is still being copied by another call: await it after that call returns");
            }
        }
        if (batch != null) {
            batch.orderCaller();
        }
    }

    /** A layer's copies failed before any was queued. */
    private void landed(int layer, Throwable failure) {
        synchronized (this) {
            failed = true;
        }
        LOG.error("{}: copying layer {} failed, the operation is given up: {}", what(), layer, failure.toString());
        settle();
    }

    /** A layer's copies have landed ({@code failure} null) or failed. */
    private void settleLayer(Throwable failure) {
        synchronized (this) {
            inFlight--;
            if (failure != null) {
                failed = true;
            }
        }
        if (failure != null) {
            LOG.error("{}: a layer's copies failed, the operation is given up: {}", what(), failure.toString());
        }
        settle();
    }

    /** Gives it up, unless it has ended: nothing more is copied, and it ends once its copies in flight land. */
    final void abandon(String why) {
        synchronized (this) {
            if (!ended && abandoned == null) {
                abandoned = why;
            }
        }
        settle();
    }

    private void settle() {
        boolean complete;
        synchronized (this) {
            if (ended || inFlight > 0 || (abandoned == null && !failed && next < layers)) {
                return;
            }
            ended = true;
            complete = abandoned == null && !failed;
        }
        engine.layeredEnded(this);
        end(complete);
    }

    /**
     * Gives up an operation whose layers are not all copied yet (its chunks are then neither
     * published nor loaded, and its leases close once its copies in flight land); after the last
     * layer it changes nothing. Idempotent.
     */
    @Override
    public void close() {
        TransferBatch[] queued;
        synchronized (this) {
            queued = batches.clone();
        }
        for (TransferBatch b : queued) {
            if (b != null) {
                b.orderCaller(); // the stream never runs past a copy of this operation, whatever becomes of it
            }
        }
        synchronized (this) {
            if (ended || next == layers) {
                return;
            }
        }
        abandon("closed before its last layer");
    }
}
