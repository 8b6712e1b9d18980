package org.lmcache4j.disk;

import org.lmcache4j.record.CorruptRecordException;
import org.lmcache4j.record.PayloadCodec;
import org.lmcache4j.record.RecordHeader;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * {@code lmcache4j disk check}: reads every record of a directory whole, header and payload, and
 * sorts them into good (this namespace, every checksum right), foreign (another model, rank or
 * shape: left alone) and corrupt; with {@code repair}, removes the corrupt ones and every
 * temporary file. Repair claims the directory as a disk tier does ({@link DirectoryClaim}), so it
 * is refused while an engine has the directory open: then every temporary file there could be one
 * of its writes in progress.
 */
public final class DiskCheck {
    /** What a check found; {@code corruptFiles} names each corrupt record and why. */
    public record Report(long good, long foreign, long corrupt, long temporary, long goodBytes,
                         List<String> corruptFiles, boolean repaired) {
    }

    private DiskCheck() {
    }

    public static Report check(Path dir, byte[] namespace, boolean repair) throws IOException {
        if (!Files.isDirectory(dir)) {
            throw new IOException(dir + " is not a directory");
        }
        try (DirectoryClaim _ = repair ? claim(dir) : null) {
            return check(dir, namespace, repair, RecordIo.probe(dir, false));
        }
    }

    private static DirectoryClaim claim(Path dir) throws IOException {
        try {
            return DirectoryClaim.take(dir);
        } catch (IOException e) {
            throw new IOException(e.getMessage() + "; stop it before --repair, or check without it", e);
        }
    }

    private static Report check(Path dir, byte[] namespace, boolean repair, RecordIo io) throws IOException {
        PayloadCodec codec = new PayloadCodec(PayloadCodec.Mode.NONE);
        long good = 0;
        long foreign = 0;
        long temporary = 0;
        long goodBytes = 0;
        List<String> corrupt = new ArrayList<>();
        for (Path p : DiskScanner.list(dir)) {
            if (RecordPaths.isTemporary(p)) {
                temporary++;
                if (repair) {
                    Files.deleteIfExists(p);
                }
                continue;
            }
            if (!RecordPaths.isRecord(p)) {
                continue;
            }
            try {
                RecordHeader h = verify(dir, p, io, codec);
                if (!Arrays.equals(h.namespace(), namespace)) {
                    foreign++;
                } else {
                    good++;
                    goodBytes += h.fileBytes();
                }
            } catch (CorruptRecordException | IOException e) {
                corrupt.add(p + ": " + e.getMessage());
                if (repair) {
                    Files.deleteIfExists(p);
                }
            }
        }
        return new Report(good, foreign, corrupt.size(), temporary, goodBytes, corrupt, repair);
    }

    private static RecordHeader verify(Path dir, Path p, RecordIo io, PayloadCodec codec)
            throws IOException, CorruptRecordException {
        try (FileChannel ch = io.openForRead(p); Arena arena = Arena.ofConfined()) {
            RecordHeader h = io.readHeader(ch, ch.size());
            if (!RecordPaths.placedFor(dir, p, h.key())) {
                throw new CorruptRecordException("record of key " + h.key() + " is not where that key's record belongs");
            }
            MemorySegment payload = arena.allocate(Math.max(1, h.payloadBytes())).asSlice(0, h.payloadBytes());
            if (io.readPayload(ch, h, payload) != h.payloadCrc()) {
                throw new CorruptRecordException("payload checksum mismatch");
            }
            codec.decode(h.codec(), payload, arena.allocate(Math.max(1, h.rawBytes())).asSlice(0, h.rawBytes()));
            return h;
        }
    }
}
