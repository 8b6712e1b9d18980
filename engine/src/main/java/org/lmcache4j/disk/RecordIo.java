package org.lmcache4j.disk;

import org.lmcache4j.record.CorruptRecordException;
import org.lmcache4j.record.RecordHeader;

import java.io.EOFException;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.OpenOption;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ThreadLocalRandom;
import java.util.function.IntFunction;
import java.util.zip.CRC32C;

import static org.lmcache4j.record.RecordHeader.ALIGN;
import static org.lmcache4j.record.RecordHeader.roundUp;

/**
 * Reads and writes record files, with {@code O_DIRECT} where the file system takes it.
 *
 * <p>O_DIRECT wants buffer addresses, file offsets and lengths aligned to the block size. Records
 * are laid out for it (header and file padded to 4 KiB), pool pages of real chunk sizes are
 * 4 KiB aligned, so the body of a payload moves straight between the page and the device; only
 * the header and the unaligned tail go through a small per-thread bounce buffer. Where O_DIRECT is
 * refused (tmpfs, some overlays), the same layout is written through the page cache.
 *
 * <p>A record is written under a temporary name and renamed once complete, so a crash can leave a
 * temporary file (removed at the next start) but never a partial record under a record's name.
 */
final class RecordIo {
    static final String TMP_MARK = ".tmp-";
    /** Payloads move and are checksummed in slices that stay in the core's cache between the two. */
    private static final long SLICE = 512 * 1024;

    private final boolean direct;
    private final ThreadLocal<Bounce> bounce = ThreadLocal.withInitial(Bounce::new);

    private RecordIo(boolean direct) {
        this.direct = direct;
    }

    /** O_DIRECT if wanted and {@code dir}'s file system accepts an aligned write with it, else buffered. */
    static RecordIo probe(Path dir, boolean wantDirect) {
        if (!wantDirect) {
            return new RecordIo(false);
        }
        Path probe = dir.resolve(".odirect-probe" + TMP_MARK + ThreadLocalRandom.current().nextLong(Long.MAX_VALUE));
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment block = arena.allocate(ALIGN, ALIGN);
            try (FileChannel ch = FileChannel.open(probe, directOptions(StandardOpenOption.CREATE_NEW,
                    StandardOpenOption.WRITE))) {
                writeFully(ch, block, 0);
            }
            return new RecordIo(true);
        } catch (IOException | UnsupportedOperationException e) {
            return new RecordIo(false);
        } finally {
            try {
                Files.deleteIfExists(probe);
            } catch (IOException ignored) {
                // a stray probe file is removed with the other temporary files at the next start
            }
        }
    }

    boolean direct() {
        return direct;
    }

    /**
     * Writes a record to {@code target} through a temporary file: the payload first, checksummed
     * slice by slice as it goes out (each slice is still in cache when it is checksummed), then the
     * header that {@code headerFor} makes from that checksum. Returns the bytes of the file.
     */
    long write(Path target, IntFunction<RecordHeader> headerFor, MemorySegment payload) throws IOException {
        Path tmp = target.resolveSibling(target.getFileName() + TMP_MARK
                + Long.toHexString(ThreadLocalRandom.current().nextLong()));
        try {
            RecordHeader header;
            try (FileChannel ch = FileChannel.open(tmp, options(StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE))) {
                Bounce b = bounce.get();
                long pos = headerFor.apply(0).headerBytes();
                long size = payload.byteSize();
                long body = directBody(payload);
                CRC32C crc = new CRC32C();
                for (long off = 0; off < body; off += SLICE) {
                    MemorySegment slice = payload.asSlice(off, Math.min(SLICE, body - off));
                    crc.update(slice.asByteBuffer());
                    writeFully(ch, slice, pos + off);
                }
                // What is left, then zeros up to the next 4 KiB: files always end on a block boundary.
                long rest = size - body;
                long pad = roundUp(size) - size;
                if (rest + pad > 0) {
                    MemorySegment tail = b.tail(rest + pad);
                    MemorySegment.copy(payload, body, tail, 0, rest);
                    tail.asSlice(rest).fill((byte) 0);
                    crc.update(tail.asSlice(0, rest).asByteBuffer());
                    writeFully(ch, tail, pos + body);
                }
                header = headerFor.apply((int) crc.getValue());
                MemorySegment head = b.header(header.headerBytes());
                header.writeTo(head);
                writeFully(ch, head, 0);
            }
            Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE);
            return header.fileBytes();
        } catch (IOException | RuntimeException e) {
            Files.deleteIfExists(tmp);
            throw e;
        }
    }

    /** Reads and checks the header of an open record file of {@code fileBytes} bytes. */
    RecordHeader readHeader(FileChannel ch, long fileBytes) throws IOException, CorruptRecordException {
        Bounce b = bounce.get();
        MemorySegment head = b.header(ALIGN);
        long got = readUpTo(ch, head, 0);
        long declared = RecordHeader.declaredHeaderBytes(head, got);
        if (declared > ALIGN && declared <= fileBytes) {
            // Chunks of more than ~1000 tokens have headers longer than one block.
            head = b.header(declared);
            got = readUpTo(ch, head, 0);
        }
        RecordHeader h = RecordHeader.read(head, Math.min(got, fileBytes));
        if (fileBytes < h.fileBytes()) {
            throw new CorruptRecordException("record is truncated: " + fileBytes + " of " + h.fileBytes() + " bytes");
        }
        return h;
    }

    /**
     * Reads the payload of a record whose header is {@code h} into {@code dest}
     * ({@code h.payloadBytes()} long), checksumming each slice right after it arrives; returns the
     * CRC32C of the payload read.
     */
    int readPayload(FileChannel ch, RecordHeader h, MemorySegment dest) throws IOException {
        long pos = h.headerBytes();
        long body = directBody(dest);
        CRC32C crc = new CRC32C();
        for (long off = 0; off < body; off += SLICE) {
            MemorySegment slice = dest.asSlice(off, Math.min(SLICE, body - off));
            readFully(ch, slice, pos + off);
            crc.update(slice.asByteBuffer());
        }
        long rest = dest.byteSize() - body;
        if (rest > 0) {
            MemorySegment tail = bounce.get().tail(roundUp(rest));
            readFully(ch, tail, pos + body);
            MemorySegment.copy(tail, 0, dest, body, rest);
            crc.update(dest.asSlice(body, rest).asByteBuffer());
        }
        return (int) crc.getValue();
    }

    FileChannel openForRead(Path p) throws IOException {
        return FileChannel.open(p, options(StandardOpenOption.READ));
    }

    /** How much of {@code seg} moves without the bounce buffer: all of it when buffered. */
    private long directBody(MemorySegment seg) {
        if (!direct) {
            return seg.byteSize();
        }
        return seg.address() % ALIGN == 0 ? seg.byteSize() / ALIGN * ALIGN : 0;
    }

    private OpenOption[] options(OpenOption... base) {
        return direct ? directOptions(base) : base;
    }

    private static OpenOption[] directOptions(OpenOption... base) {
        List<OpenOption> all = new ArrayList<>(List.of(base));
        all.add(com.sun.nio.file.ExtendedOpenOption.DIRECT);
        return all.toArray(OpenOption[]::new);
    }

    static void writeFully(FileChannel ch, MemorySegment seg, long pos) throws IOException {
        ByteBuffer buf = seg.asByteBuffer();
        while (buf.hasRemaining()) {
            pos += ch.write(buf, pos);
        }
    }

    private static void readFully(FileChannel ch, MemorySegment seg, long pos) throws IOException {
        if (readUpTo(ch, seg, pos) < seg.byteSize()) {
            throw new EOFException("record ends early");
        }
    }

    private static long readUpTo(FileChannel ch, MemorySegment seg, long pos) throws IOException {
        ByteBuffer buf = seg.asByteBuffer();
        while (buf.hasRemaining()) {
            int n = ch.read(buf, pos + buf.position());
            if (n < 0) {
                break;
            }
        }
        return buf.position();
    }

    /** Per-thread aligned buffers for headers and payload tails. */
    private static final class Bounce {
        private MemorySegment header = MemorySegment.NULL;
        private MemorySegment tail = MemorySegment.NULL;

        MemorySegment header(long bytes) {
            if (header.byteSize() < bytes) {
                header = Arena.ofAuto().allocate(roundUp(bytes), ALIGN);
            }
            return header.asSlice(0, bytes);
        }

        MemorySegment tail(long bytes) {
            if (tail.byteSize() < bytes) {
                tail = Arena.ofAuto().allocate(roundUp(bytes), ALIGN);
            }
            return tail.asSlice(0, bytes);
        }
    }
}
