package org.lmcache4j;

/**
 * A snapshot of the disk tier; {@link #NONE} when the engine has none.
 *
 * @param enabled         whether a disk tier is configured and open
 * @param directory       its directory
 * @param oDirect         whether records bypass the page cache
 * @param codec           {@code none} or {@code lz4}
 * @param capacityBytes   {@code max_local_disk_size} in bytes
 * @param usedBytes       bytes of the records indexed (never above the capacity)
 * @param records         records indexed
 * @param writes          records written
 * @param writeBytes      bytes written
 * @param writeNanos      time spent writing, summed over writes
 * @param writeFailures   writes that failed (full disk, I/O errors)
 * @param writesSkipped   writes skipped because nothing could be deleted to make room
 * @param reads           records read and verified
 * @param readBytes       bytes read
 * @param readNanos       time spent reading, summed over reads
 * @param readFailures    reads that failed: corrupt, truncated, foreign or vanished records (misses)
 * @param evictions       records deleted to make room
 * @param foreignRecords  records of another model, rank or shape found at start-up (ignored)
 * @param corruptRecords  unreadable records found at start-up (ignored)
 */
public record DiskStats(boolean enabled, String directory, boolean oDirect, String codec, long capacityBytes,
                        long usedBytes, long records, long writes, long writeBytes, long writeNanos,
                        long writeFailures, long writesSkipped, long reads, long readBytes, long readNanos,
                        long readFailures, long evictions, long foreignRecords, long corruptRecords) {

    public static final DiskStats NONE = new DiskStats(false, "", false, "none", 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
            0, 0, 0, 0);

    /** Bytes written per second of writing, in GB (10⁹ bytes). */
    public double writeGbps() {
        return writeNanos == 0 ? 0.0 : (double) writeBytes / writeNanos;
    }

    /** Bytes read per second of reading, in GB (10⁹ bytes). */
    public double readGbps() {
        return readNanos == 0 ? 0.0 : (double) readBytes / readNanos;
    }
}
