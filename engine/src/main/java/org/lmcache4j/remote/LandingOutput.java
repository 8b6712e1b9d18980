package org.lmcache4j.remote;

import io.lettuce.core.output.CommandOutput;

import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;

/**
 * The output of a GET that lands the value in pool memory: its first bytes (the payload) into the
 * destination page, its last {@code trailer.byteSize()} bytes (the record header) into the trailer.
 * The result is the payload's length, {@link #MISSING} for a key that is not there, or
 * {@link #WRONG_SIZE} for a value that cannot be a record of this chunk.
 */
final class LandingOutput extends CommandOutput<String, RecordCodec.Outgoing, Long> {
    static final long MISSING = -1;
    static final long WRONG_SIZE = -2;

    private static final int OPEN = 0;
    private static final int LANDING = 1;
    private static final int CLOSED = 2;

    private final MemorySegment page;
    private final MemorySegment trailer;
    /** Whether bytes may still be written into the page: a read given up on must not write later. */
    private final java.util.concurrent.atomic.AtomicInteger state = new java.util.concurrent.atomic.AtomicInteger(OPEN);

    LandingOutput(MemorySegment page, MemorySegment trailer) {
        super(RecordCodec.INSTANCE, MISSING);
        this.page = page;
        this.trailer = trailer;
    }

    /**
     * Makes sure nothing lands in the page after this returns: a reply that arrives late (after a
     * timeout) is then dropped on the floor, and the page can be reused.
     */
    void close() {
        while (!state.compareAndSet(OPEN, CLOSED) && state.get() != CLOSED) {
            Thread.onSpinWait(); // a reply is being copied in right now; it takes a few milliseconds at most
        }
    }

    @Override
    public void set(ByteBuffer bytes) {
        if (!state.compareAndSet(OPEN, LANDING)) {
            return;
        }
        try {
            land(bytes);
        } finally {
            state.set(CLOSED);
        }
    }

    private void land(ByteBuffer bytes) {
        if (bytes == null) {
            output = MISSING;
            return;
        }
        long payload = bytes.remaining() - trailer.byteSize();
        if (payload < 0 || payload > page.byteSize()) {
            output = WRONG_SIZE;
            return;
        }
        MemorySegment value = MemorySegment.ofBuffer(bytes);
        MemorySegment.copy(value, 0, page, 0, payload);
        MemorySegment.copy(value, payload, trailer, 0, trailer.byteSize());
        output = payload;
    }
}
