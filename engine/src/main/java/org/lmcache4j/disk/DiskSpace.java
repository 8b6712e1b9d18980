package org.lmcache4j.disk;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.nio.file.FileStore;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.LongAdder;

/**
 * What the device under the disk tier holds, against {@code max_local_disk_size}.
 *
 * <p>The cap is a promise the device may not keep: a small or shared file system fills up
 * before the tier's records reach it. So the tier's cap in effect is the lower of
 * {@code max_local_disk_size} and what the device holds for it: the bytes of its own records
 * (indexed or being written) plus what the file system reports usable. It is checked at start,
 * and again whenever a write runs out of space ({@code ENOSPC}, {@code EDQUOT}); the cap only ever
 * comes down, for the life of the tier, and the first time it does is logged. Below the cap in
 * effect the tier's ordinary least-recently-used eviction makes the room, so a full device costs
 * one failed write, not one per chunk.
 */
final class DiskSpace {
    private static final Logger LOG = LoggerFactory.getLogger(DiskTier.class);

    private final Path dir;
    private final long configuredBytes;
    private final DiskIndex index;
    private final FileStore store;
    private final LongAdder noSpaceEvents = new LongAdder();
    private final AtomicBoolean logged = new AtomicBoolean();

    DiskSpace(Path dir, long configuredBytes, DiskIndex index) throws IOException {
        this.dir = dir;
        this.configuredBytes = configuredBytes;
        this.index = index;
        this.store = Files.getFileStore(dir);
    }

    /**
     * Whether a failed write of a {@code bytes}-byte record ran out of space: the error says so,
     * or (for messages in another language) the device has less than the record usable.
     */
    boolean isNoSpace(Throwable failure, long bytes) {
        for (Throwable t = failure; t != null; t = t.getCause() == t ? null : t.getCause()) {
            String m = t.getMessage();
            if (m != null && (m.contains("No space left on device") || m.contains("Disk quota exceeded"))) {
                return true;
            }
            if (m != null && (m.contains("Read-only file system") || m.contains("Input/output error"))) {
                return false;
            }
        }
        return usableBytes() < bytes;
    }

    /** A write of {@code ownBytes} (still reserved) ran out of space: counts it, and fits the cap to the device. */
    void ranOut(long ownBytes) {
        noSpaceEvents.increment();
        fitToDevice(ownBytes);
    }

    /**
     * At start: lowers the cap to what the device holds, unless the file system reports nothing
     * usable at all (some network and FUSE file systems do, and take writes all the same; a device
     * that is really full says so at the first write).
     */
    void fitToDeviceAtStart() {
        if (usableBytes() > 0) {
            fitToDevice(0);
        }
    }

    /**
     * Lowers the cap in effect to what the device holds: the bytes indexed and reserved, less
     * {@code ownBytes} of a failed write's reservation (its file is gone), plus what is usable.
     */
    private void fitToDevice(long ownBytes) {
        long holds = Math.max(0, index.usedBytes() - ownBytes + usableBytes());
        long before = index.capacityBytes();
        if (index.lowerCapacity(holds) && logged.compareAndSet(false, true)) {
            LOG.warn("disk tier at {}: the device holds {}, below max_local_disk_size {}: the tier's cap is now {}"
                            + " (lmcache:disk_effective_capacity follows any further change)", dir, size(holds),
                    size(configuredBytes), size(holds));
        } else if (holds < before) {
            LOG.debug("disk tier at {}: cap in effect lowered to {}", dir, size(holds));
        }
    }

    long noSpaceEvents() {
        return noSpaceEvents.sum();
    }

    long effectiveCapacityBytes() {
        return index.capacityBytes();
    }

    private long usableBytes() {
        try {
            return store.getUsableSpace();
        } catch (IOException e) {
            return Long.MAX_VALUE / 4; // unknown: trust the cap
        }
    }

    static String size(long bytes) {
        return bytes >= 1L << 30 ? String.format("%.2f GiB", bytes / (double) (1L << 30))
                : String.format("%.1f MiB", bytes / (double) (1L << 20));
    }
}
