package org.lmcache4j;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.function.ToLongFunction;

/**
 * The engine's KV events, waiting for whoever reports them to a router (the vLLM connector takes
 * them after every step). Off until {@link #record(boolean) turned on}: then the index reports
 * each chunk it publishes and each published chunk it drops, under its lock.
 *
 * <p>Bounded: a serving engine must not grow a queue that nobody drains. When it is full, new
 * events are dropped and counted, and the next {@link #take} reports the gap as one
 * {@link KvEvent.Kind#LOST} event where it happened. Off, recording costs one volatile read.
 * Thread-safe. Public for the server, which gives each client that records events a queue of its
 * own and {@link #offer offers} it every event of the node's engine.
 */
public final class KvEventQueue {
    private static final Logger LOG = LoggerFactory.getLogger(KvEventQueue.class);
    /** Events kept at most: a stored one refers to its chunk's token ids (1 KiB at 256 tokens). */
    public static final int DEFAULT_CAPACITY = 16_384;

    private final int capacity;
    private final ArrayDeque<KvEvent> events = new ArrayDeque<>();
    private volatile boolean recording;
    /** Events dropped since the last LOST event was queued. */
    private long lost;
    private long lostTotal;
    private boolean warned;

    public KvEventQueue(int capacity) {
        if (capacity < 2) {
            throw new IllegalArgumentException("a KV event queue holds at least 2 events, not " + capacity);
        }
        this.capacity = capacity;
    }

    /** Starts or stops recording; stopping drops what is queued. */
    public synchronized void record(boolean on) {
        recording = on;
        if (!on) {
            events.clear();
            lost = 0;
        }
    }

    boolean recording() {
        return recording;
    }

    /** Queues an event another queue recorded, while this one records. */
    public void offer(KvEvent e) {
        if (recording) {
            add(e);
        }
    }

    void stored(ChunkEntry e) {
        if (recording) {
            add(KvEvent.stored(e));
        }
    }

    void removed(ChunkEntry e) {
        if (recording) {
            add(KvEvent.removed(e));
        }
    }

    void cleared() {
        if (recording) {
            add(KvEvent.cleared());
        }
    }

    private synchronized void add(KvEvent e) {
        if (lost > 0 && events.size() + 2 <= capacity) {
            events.add(KvEvent.lost(lost)); // the gap, where it was
            lost = 0;
        }
        if (lost == 0 && events.size() < capacity) {
            events.add(e);
            return;
        }
        lost++;
        lostTotal++;
        if (!warned) {
            warned = true;
            LOG.warn("KV events: {} are waiting and nobody takes them; dropping the next ones (counted, and reported "
                    + "as one lost-events record to whoever takes them)", capacity);
        }
    }

    /**
     * Removes and returns the oldest events whose {@code cost}s add up to at most {@code budget},
     * in order. An event that alone costs more than the budget is refused, naming its cost, and
     * nothing is taken.
     */
    public synchronized List<KvEvent> take(long budget, ToLongFunction<KvEvent> cost) {
        if (lost > 0) {
            events.add(KvEvent.lost(lost)); // past capacity for a moment: the gap ends the queue
            lost = 0;
        }
        KvEvent first = events.peek();
        if (first != null && cost.applyAsLong(first) > budget) {
            throw new IllegalArgumentException("the next KV event takes " + cost.applyAsLong(first)
                    + " bytes; the buffer holds " + budget);
        }
        List<KvEvent> out = new ArrayList<>();
        long spent = 0;
        while (!events.isEmpty() && spent + cost.applyAsLong(events.peek()) <= budget) {
            KvEvent e = events.poll();
            spent += cost.applyAsLong(e);
            out.add(e);
        }
        return out;
    }

    /** Events dropped since the engine opened because the queue was full. */
    synchronized long lostTotal() {
        return lostTotal;
    }
}
