package org.lmcache4j.transfer;

import jcuda.driver.CUstream;

import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;

/**
 * One request's copies through a {@link CudaKvTransfer}: the chunks are collected here and queued
 * all at once when the batch finishes (one kernel launch for all of them), so a batch dropped
 * before it finishes has queued nothing.
 */
final class CudaBatch implements TransferBatch {
    private final CudaKvTransfer transfer;
    final PagedCaches caches;
    final long[] slots;
    final CUstream callerStream;
    /** The one layer this batch copies, or -1 for every layer. */
    final int layer;
    final List<LaunchTables.Chunk> chunks = new ArrayList<>();
    boolean toPage;
    private boolean ended;
    /** Finished by {@link #finishDeferred}: the caller's stream waits for {@link #done} only from {@link #orderCaller()}. */
    boolean deferred;
    /** The event recorded after the copies, until they have landed (guarded by this batch); then null. */
    jcuda.driver.CUevent done;

    CudaBatch(CudaKvTransfer transfer, PagedCaches caches, long[] slots, CUstream callerStream, int layer) {
        this.transfer = transfer;
        this.layer = layer;
        this.caches = caches;
        this.slots = slots;
        this.callerStream = callerStream;
    }

    @Override
    public void gather(int from, int to, MemorySegment page) {
        add(from, to, page, true);
    }

    @Override
    public void scatter(MemorySegment page, int from, int to) {
        add(from, to, page, false);
    }

    private void add(int from, int to, MemorySegment page, boolean gather) {
        if (ended) {
            throw new IllegalStateException("this batch has ended");
        }
        if (!chunks.isEmpty() && gather != toPage) {
            throw new IllegalStateException("a batch either gathers or scatters");
        }
        toPage = gather;
        if (to > from) {
            chunks.add(new LaunchTables.Chunk(page.address(), from, to - from));
        }
    }

    @Override
    public void finish(Consumer<Throwable> landed) {
        if (ended) {
            throw new IllegalStateException("this batch has ended");
        }
        ended = true;
        transfer.finish(this, landed);
    }

    @Override
    public void finishDeferred(Consumer<Throwable> landed) {
        deferred = true;
        finish(landed);
    }

    @Override
    public void orderCaller() {
        transfer.orderCaller(this);
    }
}
