package org.lmcache4j.transfer;

import jcuda.driver.CUcontext;
import jcuda.driver.CUevent;
import jcuda.driver.JCudaDriver;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.Consumer;

/**
 * Runs what must wait for a batch of device copies to land (publishing a stored chunk, closing
 * the leases of the pages a retrieve read) on a thread of its own, so that the serving engine's
 * thread never waits for the device. Batches run on one stream, so they land in the order they
 * were queued: one thread waiting on their events in that order is enough.
 */
final class CudaCompletions implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(CudaCompletions.class);

    private record Pending(CUevent landed, Consumer<Throwable> then) {
    }

    private static final Pending STOP = new Pending(null, null);

    private final CUcontext context;
    private final LinkedBlockingQueue<Pending> queue = new LinkedBlockingQueue<>();
    private final ReentrantLock lock = new ReentrantLock();
    private final Condition idle = lock.newCondition();
    private final Thread thread;
    private int inFlight;

    CudaCompletions(CUcontext context) {
        this.context = context;
        this.thread = new Thread(this::loop, "lmcache4j-cuda-completions");
        thread.setDaemon(true);
        thread.start();
    }

    /** Runs {@code then} once {@code landed} has completed, with the device error if the copies failed. */
    void submit(CUevent landed, Consumer<Throwable> then) {
        lock.lock();
        try {
            inFlight++;
        } finally {
            lock.unlock();
        }
        queue.add(new Pending(landed, then));
    }

    /** Returns once everything submitted so far has landed and run. */
    void awaitIdle() {
        if (Thread.currentThread() == thread) {
            return; // an action of this thread asking would wait for itself
        }
        lock.lock();
        try {
            while (inFlight > 0) {
                idle.awaitUninterruptibly();
            }
        } finally {
            lock.unlock();
        }
    }

    private void loop() {
        try {
            JCudaDriver.cuCtxSetCurrent(context);
        } catch (RuntimeException e) {
            LOG.error("the CUDA completion thread cannot make its context current: {}", e.toString());
        }
        while (true) {
            Pending p;
            try {
                p = queue.take();
            } catch (InterruptedException e) {
                continue; // only STOP ends this thread: pending actions release pages
            }
            if (p == STOP) {
                return;
            }
            Throwable failure = null;
            try {
                JCudaDriver.cuEventSynchronize(p.landed);
            } catch (Throwable e) {
                failure = e; // whatever it is, the action still runs: it releases pages and leases
            }
            try {
                p.then.accept(failure);
            } catch (Throwable e) {
                LOG.error("an action after device copies failed", e);
            } finally {
                lock.lock();
                try {
                    if (--inFlight == 0) {
                        idle.signalAll();
                    }
                } finally {
                    lock.unlock();
                }
            }
        }
    }

    @Override
    public void close() {
        awaitIdle();
        queue.add(STOP);
        try {
            thread.join();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
