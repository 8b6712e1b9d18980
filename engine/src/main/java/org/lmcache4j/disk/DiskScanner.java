package org.lmcache4j.disk;

import org.lmcache4j.keys.ChunkKey;
import org.lmcache4j.record.CorruptRecordException;
import org.lmcache4j.record.RecordHeader;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Future;
import java.util.stream.Stream;

/**
 * Rebuilds the disk tier's index at start-up from the record headers already in its directory:
 * no payload is read, so ten thousand records index in well under a second. The tier has claimed
 * the directory ({@link DirectoryClaim}), so every temporary file in it is the leftover of a
 * process that died writing, whatever its age, and is removed; records of another namespace
 * (model, rank, shape) are counted and left alone; records whose header does not check out, or
 * that lie where their key's record does not belong, are counted and deleted, so that no byte on
 * the device escapes the cap.
 */
final class DiskScanner {
    private static final Logger LOG = LoggerFactory.getLogger(DiskTier.class);

    /** A usable record. */
    record Found(ChunkKey key, int tokens, long fileBytes, long modified) {
    }

    /** What a scan saw; {@code found} in least-recently-modified order; {@code corrupt} records were deleted. */
    record Result(List<Found> found, long foreign, long corrupt, long temporaryRemoved) {
    }

    private sealed interface Outcome {
        record Good(Found found) implements Outcome { }
        record Foreign() implements Outcome { }
        record Corrupt(Path path, String why) implements Outcome { }
    }

    private DiskScanner() {
    }

    static Result index(Path dir, byte[] namespace, RecordIo io, ExecutorService pool) {
        List<Path> records = new ArrayList<>();
        long temporary = 0;
        for (Path p : list(dir)) {
            if (RecordPaths.isTemporary(p)) {
                temporary += delete(p) ? 1 : 0;
            } else if (RecordPaths.isRecord(p)) {
                records.add(p);
            }
        }
        List<Callable<Outcome>> tasks = records.stream()
                .<Callable<Outcome>>map(p -> () -> readHeader(dir, p, namespace, io)).toList();
        List<Found> found = new ArrayList<>();
        long foreign = 0;
        long corrupt = 0;
        try {
            for (Future<Outcome> f : pool.invokeAll(tasks)) {
                switch (f.get()) {
                    case Outcome.Good g -> found.add(g.found());
                    case Outcome.Foreign x -> foreign++;
                    case Outcome.Corrupt c -> {
                        boolean deleted = delete(c.path());
                        if (corrupt++ == 0) {
                            LOG.warn("{} corrupt disk record {}: {} (further ones are counted, not logged)",
                                    deleted ? "deleted" : "cannot delete", c.path(), c.why());
                        }
                    }
                }
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (ExecutionException e) {
            throw new IllegalStateException("indexing " + dir + " failed", e.getCause());
        }
        found.sort(Comparator.comparingLong(Found::modified));
        return new Result(found, foreign, corrupt, temporary);
    }

    private static Outcome readHeader(Path dir, Path p, byte[] namespace, RecordIo io) {
        try (FileChannel ch = io.openForRead(p)) {
            RecordHeader h = io.readHeader(ch, ch.size());
            if (!RecordPaths.placedFor(dir, p, h.key())) {
                return new Outcome.Corrupt(p, "record of key " + h.key() + " is not where that key's record belongs");
            }
            if (!Arrays.equals(h.namespace(), namespace)) {
                return new Outcome.Foreign();
            }
            long modified = Files.readAttributes(p, BasicFileAttributes.class).lastModifiedTime().toMillis();
            return new Outcome.Good(new Found(h.key(), h.tokens().length, h.fileBytes(), modified));
        } catch (CorruptRecordException | IOException e) {
            return new Outcome.Corrupt(p, e.getMessage());
        }
    }

    /** Every regular file at most two levels under {@code dir}. */
    static List<Path> list(Path dir) {
        try (Stream<Path> s = Files.walk(dir, 2)) {
            return s.filter(Files::isRegularFile).toList();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot list " + dir, e);
        }
    }

    private static boolean delete(Path p) {
        try {
            return Files.deleteIfExists(p);
        } catch (IOException e) {
            return false;
        }
    }
}
