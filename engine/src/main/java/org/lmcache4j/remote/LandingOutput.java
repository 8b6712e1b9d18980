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

    private final MemorySegment page;
    private final MemorySegment trailer;
    /** A read given up on must not write into the page later. */
    private final PageGuard guard = new PageGuard();

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
        guard.close();
    }

    @Override
    public void set(ByteBuffer bytes) {
        if (!guard.enter()) {
            return;
        }
        try {
            land(bytes);
        } finally {
            guard.exit(false);
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
