package org.lmcache4j;

/**
 * A snapshot of the disk tier; {@link #NONE} when the engine has none.
 *
 * @param enabled         whether a disk tier is configured and open
 * @param directory       its directory
 * @param oDirect         whether records bypass the page cache
 * @param codec           {@code none} or {@code lz4}
 * @param capacityBytes   {@code max_local_disk_size} in bytes
 * @param usedBytes       bytes of the records indexed (never above the cap in effect)
 * @param records         records indexed
 * @param writes          records written
 * @param writeBytes      bytes written
 * @param writeNanos      time spent writing, summed over writes
 * @param writeFailures   writes that failed: I/O errors, a read-only file system, or a device still full after
 *                        the tier made room
 * @param writesSkipped   writes skipped without touching the disk: nothing could be deleted to make room under
 *                        the cap in effect, or the tier was not writable (see {@code writable})
 * @param reads           records read and verified
 * @param readBytes       bytes read
 * @param readNanos       time spent reading, summed over reads
 * @param readFailures    reads that failed: corrupt, truncated, foreign or vanished records (misses)
 * @param evictions       records deleted to make room
 * @param foreignRecords  records of another model, rank or shape found at start-up (ignored)
 * @param corruptRecords  unreadable records found at start-up (deleted)
 * @param effectiveCapacityBytes the cap in effect: {@code capacityBytes}, or less once the device proved to hold
 *                        less (at start, or when a write ran out of space)
 * @param noSpaceEvents   writes that ran out of space on the device ({@code ENOSPC})
 * @param writable        false while writes are skipped after a failure that was not a full device (read-only
 *                        file system, I/O errors), until a background probe succeeds
 */
public record DiskStats(boolean enabled, String directory, boolean oDirect, String codec, long capacityBytes,
                        long usedBytes, long records, long writes, long writeBytes, long writeNanos,
                        long writeFailures, long writesSkipped, long reads, long readBytes, long readNanos,
                        long readFailures, long evictions, long foreignRecords, long corruptRecords,
                        long effectiveCapacityBytes, long noSpaceEvents, boolean writable) {

    public static final DiskStats NONE = new DiskStats(false, "", false, "none", 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
            0, 0, 0, 0, 0, 0, false);

    /** Bytes written per second of writing, in GB (10⁹ bytes). */
    public double writeGbps() {
        return writeNanos == 0 ? 0.0 : (double) writeBytes / writeNanos;
    }

    /** Bytes read per second of reading, in GB (10⁹ bytes). */
    public double readGbps() {
        return readNanos == 0 ? 0.0 : (double) readBytes / readNanos;
    }
}
