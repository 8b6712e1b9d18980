package org.lmcache4j.transfer;

import jcuda.driver.CUevent;
import jcuda.driver.CUstream;

import java.lang.foreign.MemorySegment;
import java.util.function.Consumer;

/** One request's copies through a {@link CudaKvTransfer}: its caches, slots, events and slot buffers. */
final class CudaBatch implements TransferBatch {
    private final CudaKvTransfer transfer;
    final PagedCaches caches;
    final long[] slots;
    final CUstream callerStream;
    final CUevent ready;
    final CUevent done;
    /** The slots on the device (kernel mode), or null. */
    final SlotBuffers.Pair slotsOnDevice;
    private boolean ended;

    CudaBatch(CudaKvTransfer transfer, PagedCaches caches, long[] slots, CUstream callerStream, CUevent ready,
              CUevent done, SlotBuffers.Pair slotsOnDevice) {
        this.transfer = transfer;
        this.caches = caches;
        this.slots = slots;
        this.callerStream = callerStream;
        this.ready = ready;
        this.done = done;
        this.slotsOnDevice = slotsOnDevice;
    }

    @Override
    public void gather(int from, int to, MemorySegment page) {
        requireOpen();
        transfer.copy(this, from, to, page.address(), true);
    }

    @Override
    public void scatter(MemorySegment page, int from, int to) {
        requireOpen();
        transfer.copy(this, from, to, page.address(), false);
    }

    @Override
    public void finish(Consumer<Throwable> landed) {
        requireOpen();
        ended = true;
        try {
            transfer.finish(this, landed);
        } catch (RuntimeException | Error e) {
            transfer.abandon(this); // landed will not run: make sure nothing queued still reads the pages
            throw e;
        }
    }

    @Override
    public void abandon() {
        if (!ended) {
            ended = true;
            transfer.abandon(this);
        }
    }

    private void requireOpen() {
        if (ended) {
            throw new IllegalStateException("this batch has ended");
        }
    }
}
