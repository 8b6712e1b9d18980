package org.lmcache4j.disk;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;

/**
 * Whether the disk tier's directory takes writes, and finding out when it does again; the disk
 * side of what {@code RemoteHealth} does for Redis.
 *
 * <p>A write that fails for any reason but a full device (read-only file system, I/O error,
 * permissions) marks the tier unwritable, logged once. From then on the tier skips writes at
 * once, without touching the disk (counted), and a virtual thread probes the directory, writing
 * and syncing a 4 KiB file of the tier's temporary pattern and deleting it, after 0.5 s, then
 * doubling to 30 s, until a probe succeeds; that is logged once too. Reads go on all the while:
 * a read-only directory still serves what is in it.
 */
final class DiskHealth implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(DiskTier.class);
    static final long FIRST_BACKOFF_NANOS = TimeUnit.MILLISECONDS.toNanos(500);
    static final long MAX_BACKOFF_NANOS = TimeUnit.SECONDS.toNanos(30);
    private static final int PROBE_BYTES = 4096;

    private final Path dir;
    private final AtomicBoolean writable = new AtomicBoolean(true);
    private final AtomicLong changes = new AtomicLong();
    private final Thread prober;
    private volatile long downSince;
    private volatile boolean closed;

    DiskHealth(Path dir) {
        this.dir = dir;
        this.prober = Thread.ofVirtual().name("lmcache4j-disk-prober").start(this::probeLoop);
    }

    boolean writable() {
        return writable.get();
    }

    /** Times the tier went down or came back. */
    long changes() {
        return changes.get();
    }

    /** A write failed, not for want of space: the tier takes no writes until a probe succeeds. */
    void failed(Throwable cause) {
        if (!closed && writable.compareAndSet(true, false)) {
            downSince = System.nanoTime();
            changes.incrementAndGet();
            LOG.warn("disk tier at {} cannot be written ({}): writes are skipped (counted in"
                    + " lmcache:disk_writes_skipped) and reads go on; probing it in the background", dir, reason(cause));
            LockSupport.unpark(prober);
        }
    }

    private void probeLoop() {
        long backoff = FIRST_BACKOFF_NANOS;
        while (!closed) {
            if (writable.get()) {
                backoff = FIRST_BACKOFF_NANOS;
                LockSupport.park(this); // failed() wakes it
                continue;
            }
            LockSupport.parkNanos(this, backoff);
            if (closed) {
                return;
            }
            if (probe()) {
                writable.set(true);
                changes.incrementAndGet();
                LOG.info("disk tier at {} takes writes again after {} s", dir,
                        TimeUnit.NANOSECONDS.toSeconds(System.nanoTime() - downSince));
            } else {
                backoff = Math.min(MAX_BACKOFF_NANOS, backoff * 2);
            }
        }
    }

    /** Writes, syncs and deletes a small file: what a record write needs of the directory. */
    private boolean probe() {
        Path p = dir.resolve(".probe" + RecordIo.TMP_MARK + Long.toHexString(ThreadLocalRandom.current().nextLong()));
        try {
            try (FileChannel ch = FileChannel.open(p, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
                ByteBuffer block = ByteBuffer.allocate(PROBE_BYTES);
                while (block.hasRemaining()) {
                    ch.write(block);
                }
                ch.force(true);
            }
            Files.delete(p);
            return true;
        } catch (IOException | RuntimeException e) {
            try {
                Files.deleteIfExists(p);
            } catch (IOException ignored) {
                // a stray probe is a temporary file: the next start removes it
            }
            return false;
        }
    }

    private static String reason(Throwable t) {
        Throwable root = t;
        while (root.getCause() != null && root.getCause() != root) {
            root = root.getCause();
        }
        return root.getClass().getSimpleName() + ": " + root.getMessage();
    }

    @Override
    public void close() {
        closed = true;
        LockSupport.unpark(prober);
        try {
            prober.join(TimeUnit.SECONDS.toMillis(10));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
