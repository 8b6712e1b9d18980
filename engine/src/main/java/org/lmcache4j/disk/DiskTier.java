package org.lmcache4j.disk;

import org.lmcache4j.DiskStats;
import org.lmcache4j.config.DiskOptions;
import org.lmcache4j.keys.ChunkKey;
import org.lmcache4j.record.CorruptRecordException;
import org.lmcache4j.record.PayloadCodec;
import org.lmcache4j.record.RecordHeader;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executor;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.IntFunction;

/**
 * The disk tier: one record file per chunk in a directory, an in-memory index of them in
 * least-recently-used order, and a cap on their total size.
 *
 * <h2>Why one file per chunk</h2>
 * A chunk is tens of MiB for real models, so per-file overhead is noise; the file system then does
 * the allocation, a rename publishes a record atomically, deletion frees space at once (segment
 * files would need compaction), and a damaged record damages nothing else. It is also the layout
 * LMCache users know. The index is not persisted: it is rebuilt at start-up from the headers alone
 * (4 KiB a record, read in parallel), which the header's own checksum makes trustworthy.
 *
 * <h2>Deletion and readers</h2>
 * A record being read is never deleted: {@link #beginRead} counts a reader and eviction skips
 * records with readers. A record that disappears underneath (deleted by hand) is a miss at read
 * time and leaves the index.
 *
 * <h2>Failures</h2>
 * Nothing here throws into the serving loop: a corrupt, truncated, foreign or vanished record is a
 * counted miss and is dropped from the index. A write that runs out of space fits the cap to what
 * the device holds ({@link DiskSpace}), evicts the tier's own least recently used records under
 * it and is tried once more. Any other failed write (read-only file system, I/O error) makes the
 * tier skip writes until a background probe finds the directory writable ({@link DiskHealth});
 * reads go on. Each kind of failure is logged once rather than once per chunk.
 *
 * <h2>The directory</h2>
 * The tier claims its directory for as long as it is open ({@link DirectoryClaim}): a second
 * tier on it, in this process or another, is refused. So at start every temporary file there is
 * a dead process's and is removed, whatever its age, and corrupt records are deleted.
 */
public final class DiskTier implements SpillTier {
    private static final Logger LOG = LoggerFactory.getLogger(DiskTier.class);

    private final Path dir;
    private final long capacityBytes;
    private final byte[] namespace;
    private final PayloadCodec codec;
    private final RecordIo io;
    private final int elementBytes;
    private final ExecutorService ioPool;
    private final ExecutorService readPool;

    private final DiskIndex index;

    private final LongAdder writes = new LongAdder();
    private final LongAdder writeBytes = new LongAdder();
    private final LongAdder writeNanos = new LongAdder();
    private final LongAdder writeFailures = new LongAdder();
    private final LongAdder writesSkipped = new LongAdder();
    private final LongAdder reads = new LongAdder();
    private final LongAdder readBytes = new LongAdder();
    private final LongAdder readNanos = new LongAdder();
    private final LongAdder readFailures = new LongAdder();
    private final DiskScanner.Result startup;
    private final Set<String> logged = ConcurrentHashMap.newKeySet();
    private final DirectoryClaim claim;
    private final DiskSpace space;
    private final DiskHealth health;

    private DiskTier(Path dir, long capacityBytes, byte[] namespace, int elementBytes, DiskOptions options,
                     DirectoryClaim claim) throws IOException {
        this.dir = dir;
        this.capacityBytes = capacityBytes;
        this.namespace = namespace.clone();
        this.index = new DiskIndex(capacityBytes);
        this.elementBytes = elementBytes;
        this.codec = new PayloadCodec(options.codec());
        this.claim = claim;
        this.space = new DiskSpace(dir, capacityBytes, index);
        this.io = RecordIo.probe(dir, options.oDirect());
        this.ioPool = threads("lmcache4j-disk-", options.ioThreads());
        this.readPool = threads("lmcache4j-disk-read-", options.ioThreads());
        try {
            this.startup = DiskScanner.index(dir, namespace, io, ioPool);
        } catch (RuntimeException e) {
            ioPool.shutdownNow();
            readPool.shutdownNow();
            throw e;
        }
        if (startup.temporaryRemoved() > 0) {
            LOG.info("removed {} temporary files left in {} by a process that died writing", startup.temporaryRemoved(),
                    dir);
        }
        for (DiskScanner.Found f : startup.found()) {
            index.add(f.key(), f.tokens(), f.fileBytes());
        }
        delete(index.shrinkToCapacity());
        space.fitToDeviceAtStart();
        this.health = new DiskHealth(dir);
    }

    /**
     * Opens (creating if needed) the tier in {@code dir} and indexes the records already there.
     *
     * @param namespace    the engine's key namespace: records of any other are foreign and ignored
     * @param elementBytes bytes per KV element, for the codec's byte shuffle
     * @throws IOException when the directory cannot be created, read or written
     */
    public static DiskTier open(Path dir, long capacityBytes, byte[] namespace, int elementBytes,
                                DiskOptions options) throws IOException {
        Files.createDirectories(dir);
        if (!Files.isDirectory(dir) || !Files.isWritable(dir) || !Files.isReadable(dir)) {
            throw new IOException(dir + " is not a readable and writable directory");
        }
        DirectoryClaim claim = DirectoryClaim.take(dir);
        try {
            Path probe = Files.createTempFile(dir, ".probe", RecordIo.TMP_MARK);
            Files.delete(probe);
            return new DiskTier(dir, capacityBytes, namespace, elementBytes, options, claim);
        } catch (IOException | RuntimeException e) {
            claim.close();
            throw e;
        }
    }

    @Override
    public boolean enabled() {
        return true;
    }

    @Override
    public boolean contains(ChunkKey key, int tokens) {
        return index.contains(key, tokens);
    }

    @Override
    public boolean holds(ChunkKey key, int tokens) {
        return index.holds(key, tokens);
    }

    @Override
    public boolean beginRead(ChunkKey key) {
        return index.beginRead(key);
    }

    @Override
    public void endRead(ChunkKey key) {
        index.endRead(key);
    }

    @Override
    public boolean read(ChunkKey key, int[] tokens, int from, int to, MemorySegment chunkOut) {
        long start = System.nanoTime();
        Path path = RecordPaths.of(dir, key);
        try (FileChannel ch = io.openForRead(path)) {
            RecordHeader h = io.readHeader(ch, ch.size());
            check(h, key, tokens, from, to, chunkOut.byteSize());
            if (h.codec() == org.lmcache4j.record.Codec.RAW) {
                verifyCrc(h, io.readPayload(ch, h, chunkOut));
            } else {
                try (Arena arena = Arena.ofConfined()) {
                    MemorySegment payload = arena.allocate(RecordHeader.roundUp(h.payloadBytes()), RecordHeader.ALIGN)
                            .asSlice(0, h.payloadBytes());
                    verifyCrc(h, io.readPayload(ch, h, payload));
                    codec.decode(h.codec(), payload, chunkOut);
                }
            }
            reads.increment();
            readBytes.add(h.fileBytes());
            readNanos.add(System.nanoTime() - start);
            return true;
        } catch (CorruptRecordException | IOException e) {
            readFailures.increment();
            logOnce("read", "disk record " + path + " is a miss and leaves the index: " + e
                    + " (further read failures are counted in lmcache:disk_read_failures, not logged)");
            drop(key, path, e instanceof CorruptRecordException);
            return false;
        }
    }

    @Override
    public boolean writable() {
        return health.writable();
    }

    @Override
    public boolean write(ChunkKey key, ChunkKey parent, int[] tokens, MemorySegment chunk) {
        if (!health.writable()) {
            writesSkipped.increment(); // the directory is read-only or failing: the prober finds out when it is back
            return false;
        }
        PayloadCodec.Encoded encoded = codec.encode(chunk, elementBytes);
        IntFunction<RecordHeader> headerFor = crc -> new RecordHeader(encoded.codec(), namespace,
                key, parent, tokens, elementBytes, chunk.byteSize(), encoded.payload().byteSize(), crc);
        long size = headerFor.apply(0).fileBytes();
        List<ChunkKey> evicted = new ArrayList<>();
        DiskIndex.Reservation reservation = index.reserve(key, size, evicted);
        delete(evicted);
        switch (reservation) {
            case PRESENT -> {
                return true;
            }
            case IN_FLIGHT -> {
                return false;
            }
            case NO_ROOM -> {
                writesSkipped.increment();
                return false;
            }
            case RESERVED -> {
                // below
            }
        }
        long start = System.nanoTime();
        boolean ok = false;
        try {
            ok = writeReserved(key, size, headerFor, encoded.payload());
            return ok;
        } finally {
            index.finishWrite(key, tokens.length, size, ok);
            if (ok) {
                // Counted once indexed, so that whoever sees the count also finds the record.
                writes.increment();
                writeBytes.add(size);
                writeNanos.add(System.nanoTime() - start);
            }
        }
    }

    /**
     * Writes a record whose room is reserved. When the device runs out of space first, the cap
     * comes down to what the device holds, the least recently used records without readers make
     * room under it, and the write is tried once more; a second shortage is a counted failure.
     */
    private boolean writeReserved(ChunkKey key, long size, IntFunction<RecordHeader> headerFor, MemorySegment payload) {
        Path path = RecordPaths.of(dir, key);
        for (int attempt = 1; ; attempt++) {
            try {
                Files.createDirectories(path.getParent());
                io.write(path, headerFor, payload);
                return true;
            } catch (IOException | RuntimeException e) {
                if (!space.isNoSpace(e, size)) {
                    writeFailures.increment();
                    health.failed(e);
                    return false;
                }
                space.ranOut(size);
                if (attempt > 1) {
                    writeFailures.increment();
                    logOnce("nospace", "disk tier at " + dir + " ran out of space again after making room: the chunk"
                            + " stays in memory only (" + e + "; counted in lmcache:disk_write_failures)");
                    return false;
                }
                List<ChunkKey> evicted = new ArrayList<>();
                boolean fits = index.fitsAfterEvicting(evicted);
                delete(evicted);
                if (!fits) {
                    writesSkipped.increment(); // bigger than the device holds, or the rest is being read
                    return false;
                }
            }
        }
    }

    @Override
    public Executor io() {
        return ioPool;
    }

    @Override
    public Executor readIo() {
        return readPool;
    }

    private static ExecutorService threads(String prefix, int count) {
        AtomicInteger n = new AtomicInteger();
        return Executors.newFixedThreadPool(count, r -> {
            Thread t = new Thread(r, prefix + n.incrementAndGet());
            t.setDaemon(true);
            return t;
        });
    }

    @Override
    public DiskStats stats() {
        return new DiskStats(true, dir.toString(), io.direct(), codec.mode().name().toLowerCase(),
                capacityBytes, index.usedBytes(), index.records(), writes.sum(), writeBytes.sum(), writeNanos.sum(),
                writeFailures.sum(), writesSkipped.sum(), reads.sum(), readBytes.sum(), readNanos.sum(),
                readFailures.sum(), index.evictions(), startup.foreign(), startup.corrupt(),
                space.effectiveCapacityBytes(), space.noSpaceEvents(), health.writable());
    }

    @Override
    public String describe() {
        DiskStats s = stats();
        String cap = String.format("%.2f GiB cap", capacityBytes / (double) (1L << 30));
        if (s.effectiveCapacityBytes() < capacityBytes) {
            cap += ", " + DiskSpace.size(s.effectiveCapacityBytes()) + " in effect: the device holds no more";
        }
        return String.format("disk %s (%s, %d records / %.2f GiB found, %d foreign, %d corrupt deleted, %s, codec %s)",
                dir, cap, s.records(), s.usedBytes() / (double) (1L << 30),
                s.foreignRecords(), s.corruptRecords(), io.direct() ? "O_DIRECT" : "buffered", s.codec());
    }

    @Override
    public void close() {
        health.close();
        ioPool.shutdown();
        readPool.shutdown();
        try {
            if (!ioPool.awaitTermination(30, TimeUnit.SECONDS) || !readPool.awaitTermination(30, TimeUnit.SECONDS)) {
                LOG.warn("disk I/O still running after 30 s at close");
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } finally {
            claim.close();
        }
        DiskStats s = stats();
        if (s.writeFailures() + s.writesSkipped() + s.noSpaceEvents() > 0) {
            LOG.info("disk tier at {} closed: {} records written, {} writes failed, {} skipped, {} out-of-space events,"
                            + " cap in effect {}", dir, s.writes(), s.writeFailures(), s.writesSkipped(), s.noSpaceEvents(),
                    DiskSpace.size(s.effectiveCapacityBytes()));
        }
    }

    private void check(RecordHeader h, ChunkKey key, int[] tokens, int from, int to, long rawBytes)
            throws CorruptRecordException {
        if (!Arrays.equals(h.namespace(), namespace)) {
            throw new CorruptRecordException("record belongs to another model, rank or KV shape");
        }
        if (!h.key().equals(key)) {
            throw new CorruptRecordException("record holds key " + h.key() + ", not " + key);
        }
        if (!Arrays.equals(h.tokens(), 0, h.tokens().length, tokens, from, to)) {
            throw new CorruptRecordException("record holds other token ids");
        }
        if (h.rawBytes() != rawBytes) {
            throw new CorruptRecordException("record holds " + h.rawBytes() + " bytes, the chunk needs " + rawBytes);
        }
    }

    private static void verifyCrc(RecordHeader h, int payloadCrc) throws CorruptRecordException {
        if (payloadCrc != h.payloadCrc()) {
            throw new CorruptRecordException("payload checksum mismatch");
        }
    }

    /** Removes a record that failed to read from the index, and deletes it if it is corrupt. */
    private void drop(ChunkKey key, Path path, boolean corrupt) {
        index.remove(key);
        if (corrupt) {
            try {
                Files.deleteIfExists(path);
            } catch (IOException ignored) {
                // it is out of the index either way; `lmcache4j disk check --repair` removes it later
            }
        }
    }

    /** Deletes the files of records the index evicted (outside its lock: an unlink can be slow). */
    private void delete(List<ChunkKey> evicted) {
        for (ChunkKey k : evicted) {
            Path p = RecordPaths.of(dir, k);
            try {
                Files.deleteIfExists(p);
            } catch (IOException e) {
                logOnce("delete", "cannot delete disk record " + p + ": " + e);
            }
        }
    }

    private void logOnce(String kind, String message) {
        if (logged.add(kind)) {
            LOG.warn(message);
        }
    }
}
