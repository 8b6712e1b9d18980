package org.lmcache4j.memory;

import java.io.IOException;
import java.nio.file.Path;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * An exclusive {@code flock(2)} on a file, taken through a read-only descriptor (so it holds no
 * file open for writing and a file system can still be remounted read-only under it). The
 * kernel lets it go when the process dies, however it dies. The libc binding lives in
 * {@link Libc}, with the engine's other raw calls.
 */
public final class FileLocks {
    private FileLocks() {
    }

    /**
     * Locks {@code file}: returns what lets the lock go, or null when another open file
     * description holds it.
     *
     * @throws UnsupportedOperationException where flock cannot be used (no libc binding, or a file
     *                                       system without it): the caller needs another lock
     */
    public static AutoCloseable tryLockExclusive(Path file) throws IOException {
        Libc c = Libc.load().orElseThrow(() -> new UnsupportedOperationException("no libc flock on this platform"));
        int fd = c.openReadOnly(file.toString());
        if (fd < 0) {
            throw new IOException("cannot open " + file + " (errno " + -fd + ")");
        }
        int err = c.lockExclusive(fd);
        if (err == 0) {
            AtomicBoolean open = new AtomicBoolean(true);
            return () -> {
                if (open.getAndSet(false)) {
                    c.closeFd(fd);
                }
            };
        }
        c.closeFd(fd);
        if (err == Libc.EWOULDBLOCK) {
            return null;
        }
        throw new UnsupportedOperationException("flock on " + file + " failed (errno " + err + ")");
    }
}
