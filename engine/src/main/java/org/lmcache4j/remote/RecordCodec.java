package org.lmcache4j.remote;

import io.lettuce.core.codec.RedisCodec;
import io.lettuce.core.codec.ToByteBufEncoder;
import io.netty.buffer.ByteBuf;

import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;

/**
 * Keys as UTF-8 strings; values as {@link Outgoing} records, encoded straight from pool memory into
 * the command's Netty buffer (one copy, no heap array). Values are only ever read through
 * {@link LandingOutput}, which copies them straight into pool memory, so this codec never decodes one.
 *
 * <p>A value is the record's payload followed by its header: with the header last, a read lands
 * the payload at offset 0 of the destination page, where the chunk belongs.
 */
final class RecordCodec implements RedisCodec<String, RecordCodec.Outgoing>, ToByteBufEncoder<String, RecordCodec.Outgoing> {
    static final RecordCodec INSTANCE = new RecordCodec();

    /**
     * A record to write: the chunk's bytes in a leased page, and its header. Encoding happens on
     * lettuce's event loop whenever the command goes out; the {@code guard} makes sure that once the
     * write has ended (even by a timeout) the page is no longer read.
     */
    record Outgoing(MemorySegment payload, MemorySegment header, PageGuard guard) {
        Outgoing(MemorySegment payload, MemorySegment header) {
            this(payload, header, new PageGuard());
        }

        long size() {
            return payload.byteSize() + header.byteSize();
        }
    }

    @Override
    public String decodeKey(ByteBuffer bytes) {
        return StandardCharsets.UTF_8.decode(bytes).toString();
    }

    @Override
    public Outgoing decodeValue(ByteBuffer bytes) {
        throw new UnsupportedOperationException("remote records are read through LandingOutput");
    }

    @Override
    public ByteBuffer encodeKey(String key) {
        return StandardCharsets.UTF_8.encode(key);
    }

    @Override
    public ByteBuffer encodeValue(Outgoing value) {
        ByteBuffer out = ByteBuffer.allocate(Math.toIntExact(value.size()));
        out.put(value.payload.asByteBuffer()).put(value.header.asByteBuffer()).flip();
        return out;
    }

    @Override
    public void encodeKey(String key, ByteBuf target) {
        target.writeCharSequence(key, StandardCharsets.UTF_8);
    }

    @Override
    public void encodeValue(Outgoing value, ByteBuf target) {
        if (!value.guard.enter()) {
            // The write already ended (timed out) and its page may be someone else's: send zeros of the
            // declared length, which keeps the protocol in step and can never pass a reader's checksum.
            target.writeZero(Math.toIntExact(value.size()));
            return;
        }
        try {
            target.writeBytes(value.payload.asByteBuffer());
            target.writeBytes(value.header.asByteBuffer());
        } finally {
            value.guard.exit(true);
        }
    }

    @Override
    public int estimateSize(Object keyOrValue) {
        return switch (keyOrValue) {
            case Outgoing o -> Math.toIntExact(o.size());
            case String s -> s.getBytes(StandardCharsets.UTF_8).length;
            case null -> 0;
            default -> 0;
        };
    }

    @Override
    public boolean isEstimateExact() {
        return true;
    }
}
