package org.lmcache4j.record;

import net.jpountz.lz4.LZ4Compressor;
import net.jpountz.lz4.LZ4Exception;
import net.jpountz.lz4.LZ4Factory;
import net.jpountz.lz4.LZ4SafeDecompressor;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Locale;

/**
 * Chooses how a chunk is stored and turns it into a payload and back.
 *
 * <p>KV in bf16 or fp16 barely compresses (LZ4 ratios of 1.0–1.2 measured on these machines, even
 * byte-shuffled), so compressing blindly would spend CPU for nothing. In {@link Mode#LZ4} the
 * codec compresses a 64 KiB sample first (eight slices spread over the chunk) (byte-shuffled for 16-bit elements, which groups the
 * exponent bytes) and stores the chunk raw unless the sample shrinks by at least 10%; then it
 * compresses the whole chunk, and still stores it raw if that did not save 10%.
 *
 * <p>Thread-safe: scratch memory is per thread and grows to the largest chunk seen.
 */
public final class PayloadCodec {
    /** The configured compression: {@code none} or {@code lz4} (adaptive). */
    public enum Mode {
        NONE, LZ4;

        public static Mode parse(String s) {
            return switch (s == null ? "" : s.trim().toLowerCase(Locale.ROOT)) {
                case "none", "raw", "" -> NONE;
                case "lz4" -> LZ4;
                default -> throw new IllegalArgumentException("disk_codec '" + s + "' is not supported (none, lz4)");
            };
        }
    }

    /** A payload ready to write: a slice of the chunk itself, or bytes in this thread's scratch. */
    public record Encoded(Codec codec, MemorySegment payload) {
    }

    private static final int SAMPLE_BYTES = 64 * 1024;
    private static final int SAMPLE_SLICES = 8;
    private static final double KEEP_IF_BELOW = 0.90;

    private final Mode mode;
    private final LZ4Compressor compressor = LZ4Factory.fastestInstance().fastCompressor();
    private final LZ4SafeDecompressor decompressor = LZ4Factory.fastestInstance().safeDecompressor();
    private final ThreadLocal<Scratch> scratch = ThreadLocal.withInitial(Scratch::new);

    public PayloadCodec(Mode mode) {
        this.mode = mode;
    }

    public Mode mode() {
        return mode;
    }

    public Encoded encode(MemorySegment chunk, int elementBytes) {
        if (mode == Mode.NONE || chunk.byteSize() < 1024) {
            return new Encoded(Codec.RAW, chunk);
        }
        Scratch s = scratch.get();
        boolean shuffle = elementBytes == 2;
        MemorySegment source = chunk;
        if (shuffle) {
            MemorySegment shuffled = s.shuffled(chunk.byteSize());
            shuffle16(chunk, shuffled);
            source = shuffled;
        }
        MemorySegment out = s.compressed(compressor.maxCompressedLength((int) source.byteSize()));
        if (!sampleCompresses(source, out)) {
            return new Encoded(Codec.RAW, chunk);
        }
        int n = compress(source, out);
        if (n > KEEP_IF_BELOW * source.byteSize()) {
            return new Encoded(Codec.RAW, chunk);
        }
        return new Encoded(shuffle ? Codec.LZ4_SHUFFLE16 : Codec.LZ4, out.asSlice(0, n));
    }

    /** Restores the chunk's {@code chunkOut.byteSize()} bytes from a stored payload. */
    public void decode(Codec codec, MemorySegment payload, MemorySegment chunkOut) throws CorruptRecordException {
        switch (codec) {
            case RAW -> {
                if (payload.byteSize() != chunkOut.byteSize()) {
                    throw new CorruptRecordException("raw payload of " + payload.byteSize() + " bytes for a chunk of "
                            + chunkOut.byteSize());
                }
                MemorySegment.copy(payload, 0, chunkOut, 0, payload.byteSize());
            }
            case LZ4 -> decompress(payload, chunkOut);
            case LZ4_SHUFFLE16 -> {
                MemorySegment shuffled = scratch.get().shuffled(chunkOut.byteSize());
                decompress(payload, shuffled);
                unshuffle16(shuffled, chunkOut);
            }
        }
    }

    /**
     * Compresses {@link #SAMPLE_SLICES} slices spread over the source (a shuffled chunk holds its
     * low bytes first and its high bytes last, so one slice at the start would see only one kind).
     */
    private boolean sampleCompresses(MemorySegment source, MemorySegment out) {
        long slice = Math.min(SAMPLE_BYTES / SAMPLE_SLICES, source.byteSize() / SAMPLE_SLICES);
        long stride = source.byteSize() / SAMPLE_SLICES;
        long in = 0;
        long compressed = 0;
        for (int i = 0; i < SAMPLE_SLICES; i++) {
            compressed += compress(source.asSlice(i * stride, slice), out);
            in += slice;
        }
        return compressed <= KEEP_IF_BELOW * in;
    }

    private int compress(MemorySegment src, MemorySegment dst) {
        return compressor.compress(src.asByteBuffer(), 0, (int) src.byteSize(), dst.asByteBuffer(), 0,
                (int) dst.byteSize());
    }

    private void decompress(MemorySegment payload, MemorySegment out) throws CorruptRecordException {
        try {
            int n = decompressor.decompress(payload.asByteBuffer(), 0, (int) payload.byteSize(), out.asByteBuffer(),
                    0, (int) out.byteSize());
            if (n != out.byteSize()) {
                throw new CorruptRecordException("payload decompressed to " + n + " bytes, expected " + out.byteSize());
            }
        } catch (LZ4Exception e) {
            throw new CorruptRecordException("payload does not decompress: " + e.getMessage());
        }
    }

    /** Low bytes of every 16-bit element first, then the high bytes; an odd last byte stays last. */
    static void shuffle16(MemorySegment in, MemorySegment out) {
        long n = in.byteSize() / 2;
        for (long i = 0; i < n; i++) {
            out.set(ValueLayout.JAVA_BYTE, i, in.get(ValueLayout.JAVA_BYTE, 2 * i));
            out.set(ValueLayout.JAVA_BYTE, n + i, in.get(ValueLayout.JAVA_BYTE, 2 * i + 1));
        }
        if (in.byteSize() % 2 != 0) {
            out.set(ValueLayout.JAVA_BYTE, 2 * n, in.get(ValueLayout.JAVA_BYTE, 2 * n));
        }
    }

    static void unshuffle16(MemorySegment in, MemorySegment out) {
        long n = in.byteSize() / 2;
        for (long i = 0; i < n; i++) {
            out.set(ValueLayout.JAVA_BYTE, 2 * i, in.get(ValueLayout.JAVA_BYTE, i));
            out.set(ValueLayout.JAVA_BYTE, 2 * i + 1, in.get(ValueLayout.JAVA_BYTE, n + i));
        }
        if (in.byteSize() % 2 != 0) {
            out.set(ValueLayout.JAVA_BYTE, 2 * n, in.get(ValueLayout.JAVA_BYTE, 2 * n));
        }
    }

    /** Per-thread buffers, 4 KiB aligned so that O_DIRECT can write from them. */
    private static final class Scratch {
        private MemorySegment shuffled = MemorySegment.NULL;
        private MemorySegment compressed = MemorySegment.NULL;

        MemorySegment shuffled(long bytes) {
            if (shuffled.byteSize() < bytes) {
                shuffled = Arena.ofAuto().allocate(RecordHeader.roundUp(bytes), RecordHeader.ALIGN);
            }
            return shuffled.asSlice(0, bytes);
        }

        MemorySegment compressed(long bytes) {
            if (compressed.byteSize() < bytes) {
                compressed = Arena.ofAuto().allocate(RecordHeader.roundUp(bytes), RecordHeader.ALIGN);
            }
            return compressed;
        }
    }
}
