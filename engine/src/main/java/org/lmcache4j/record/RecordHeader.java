package org.lmcache4j.record;

import org.lmcache4j.keys.ChunkKey;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.zip.CRC32C;

/**
 * The header of a chunk record. All integers little-endian.
 *
 * <pre>
 *  offset  size  field
 *       0     8  MAGIC          "LMC4JREC"
 *       8     2  VERSION        1
 *      10     2  CODEC          {@link Codec#id()}: 0 raw, 1 lz4, 2 lz4 over byte-shuffled 16-bit elements
 *      12     4  HEADER_BYTES   where the payload starts: FIXED + 4 * token_count rounded up to 4096
 *      16    16  NAMESPACE      fingerprint of model, rank, chunk size and KV shape ({@code ChunkHasher})
 *      32    16  KEY            this chunk's key
 *      48    16  PARENT         the previous chunk's key (the scope's root for chunk 0)
 *      64     4  TOKEN_COUNT    tokens in the chunk
 *      68     2  ELEMENT_BYTES  bytes per KV element (for the shuffle)
 *      70     2  FLAGS          0
 *      72     8  RAW_BYTES      bytes of the chunk in the pool's chunk format
 *      80     8  PAYLOAD_BYTES  bytes of the payload as stored (compressed or not)
 *      88     4  PAYLOAD_CRC    CRC32C of the stored payload
 *      92     4  HEADER_CRC     CRC32C of bytes [0, 92) and of the token ids
 *      96  4*n   TOKENS         the chunk's token ids, int32
 *       …        zero padding up to HEADER_BYTES, then PAYLOAD_BYTES of payload, then zero
 *                padding of the file to a multiple of 4096 (so that O_DIRECT can read it whole)
 * </pre>
 *
 * Two checksums instead of one over everything, so that a restart can index a directory from
 * headers alone (4 KiB a record) and still trust what it indexed; the payload's is checked on
 * every read before a byte of it is served.
 */
public record RecordHeader(Codec codec, byte[] namespace, ChunkKey key, ChunkKey parent, int[] tokens,
                           int elementBytes, long rawBytes, long payloadBytes, int payloadCrc) {
    public static final long MAGIC = 0x4345_524A_3443_4D4CL; // "LMC4JREC" read little-endian
    public static final short VERSION = 1;
    public static final int ALIGN = 4096;

    static final int OFF_MAGIC = 0;
    static final int OFF_VERSION = 8;
    static final int OFF_CODEC = 10;
    static final int OFF_HEADER_BYTES = 12;
    static final int OFF_NAMESPACE = 16;
    static final int OFF_KEY = 32;
    static final int OFF_PARENT = 48;
    static final int OFF_TOKEN_COUNT = 64;
    static final int OFF_ELEMENT_BYTES = 68;
    static final int OFF_FLAGS = 70;
    static final int OFF_RAW_BYTES = 72;
    static final int OFF_PAYLOAD_BYTES = 80;
    static final int OFF_PAYLOAD_CRC = 88;
    static final int OFF_HEADER_CRC = 92;
    public static final int FIXED = 96;

    private static final ValueLayout.OfShort U16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfInt I32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfLong I64 = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfLong KEY_HALF = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.BIG_ENDIAN);
    /** No chunk has more tokens than this; a larger count is corruption, not a big chunk. */
    private static final int MAX_TOKENS = 1 << 20;

    /** Bytes before the payload: the fixed part and the token ids, rounded up to {@link #ALIGN}. */
    public static long headerBytes(int tokenCount) {
        return roundUp(FIXED + 4L * tokenCount);
    }

    public long headerBytes() {
        return headerBytes(tokens.length);
    }

    /** Bytes of the whole record file: header, payload, padding. */
    public long fileBytes() {
        return headerBytes() + roundUp(payloadBytes);
    }

    public static long roundUp(long n) {
        return (n + ALIGN - 1) / ALIGN * ALIGN;
    }

    /** Writes the header, with its checksum, at the start of {@code out} (at least {@link #headerBytes()} long). */
    public void writeTo(MemorySegment out) {
        long size = headerBytes();
        out.asSlice(0, size).fill((byte) 0);
        out.set(I64, OFF_MAGIC, MAGIC);
        out.set(U16, OFF_VERSION, VERSION);
        out.set(U16, OFF_CODEC, (short) codec.id());
        out.set(I32, OFF_HEADER_BYTES, (int) size);
        MemorySegment.copy(MemorySegment.ofArray(namespace), 0, out, OFF_NAMESPACE, 16);
        putKey(out, OFF_KEY, key);
        putKey(out, OFF_PARENT, parent);
        out.set(I32, OFF_TOKEN_COUNT, tokens.length);
        out.set(U16, OFF_ELEMENT_BYTES, (short) elementBytes);
        out.set(U16, OFF_FLAGS, (short) 0);
        out.set(I64, OFF_RAW_BYTES, rawBytes);
        out.set(I64, OFF_PAYLOAD_BYTES, payloadBytes);
        out.set(I32, OFF_PAYLOAD_CRC, payloadCrc);
        for (int i = 0; i < tokens.length; i++) {
            out.set(I32, FIXED + 4L * i, tokens[i]);
        }
        out.set(I32, OFF_HEADER_CRC, headerCrc(out, tokens.length));
    }

    /**
     * Reads and checks a header from the first {@code available} bytes of {@code in}.
     *
     * @throws CorruptRecordException when anything does not check out
     */
    public static RecordHeader read(MemorySegment in, long available) throws CorruptRecordException {
        if (available < FIXED) {
            throw new CorruptRecordException("record of " + available + " bytes is shorter than a header");
        }
        if (in.get(I64, OFF_MAGIC) != MAGIC) {
            throw new CorruptRecordException("not a record (bad magic)");
        }
        int version = in.get(U16, OFF_VERSION);
        if (version != VERSION) {
            throw new CorruptRecordException("record format version " + version + " is not " + VERSION);
        }
        int count = in.get(I32, OFF_TOKEN_COUNT);
        if (count < 0 || count > MAX_TOKENS) {
            throw new CorruptRecordException("token count " + count + " is out of range");
        }
        long size = in.get(I32, OFF_HEADER_BYTES) & 0xFFFF_FFFFL;
        if (size != headerBytes(count) || size > available) {
            throw new CorruptRecordException("header size " + size + " does not fit " + count + " tokens in "
                    + available + " bytes");
        }
        int crc = in.get(I32, OFF_HEADER_CRC);
        if (crc != headerCrc(in, count)) {
            throw new CorruptRecordException("header checksum mismatch");
        }
        byte[] namespace = new byte[16];
        MemorySegment.copy(in, ValueLayout.JAVA_BYTE, OFF_NAMESPACE, namespace, 0, 16);
        int[] tokens = new int[count];
        for (int i = 0; i < count; i++) {
            tokens[i] = in.get(I32, FIXED + 4L * i);
        }
        Codec codec = Codec.of(in.get(U16, OFF_CODEC));
        long raw = in.get(I64, OFF_RAW_BYTES);
        long payload = in.get(I64, OFF_PAYLOAD_BYTES);
        if (raw < 0 || payload < 0 || (codec == Codec.RAW && payload != raw)) {
            throw new CorruptRecordException("sizes raw=" + raw + " payload=" + payload + " are inconsistent");
        }
        return new RecordHeader(codec, namespace, key(in, OFF_KEY), key(in, OFF_PARENT), tokens,
                in.get(U16, OFF_ELEMENT_BYTES), raw, payload, in.get(I32, OFF_PAYLOAD_CRC));
    }

    /** The header size a record claims in its first {@code available} bytes, 0 if it cannot tell. */
    public static long declaredHeaderBytes(MemorySegment in, long available) {
        if (available < OFF_HEADER_BYTES + 4 || in.get(I64, OFF_MAGIC) != MAGIC) {
            return 0;
        }
        return in.get(I32, OFF_HEADER_BYTES) & 0xFFFF_FFFFL;
    }

    private static int headerCrc(MemorySegment header, int tokenCount) {
        CRC32C crc = new CRC32C();
        crc.update(header.asSlice(0, OFF_HEADER_CRC).asByteBuffer());
        crc.update(header.asSlice(FIXED, 4L * tokenCount).asByteBuffer());
        return (int) crc.getValue();
    }

    private static void putKey(MemorySegment out, long off, ChunkKey k) {
        out.set(KEY_HALF, off, k.hi());
        out.set(KEY_HALF, off + 8, k.lo());
    }

    private static ChunkKey key(MemorySegment in, long off) {
        return new ChunkKey(in.get(KEY_HALF, off), in.get(KEY_HALF, off + 8));
    }
}
