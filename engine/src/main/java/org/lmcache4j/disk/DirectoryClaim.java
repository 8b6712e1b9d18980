package org.lmcache4j.disk;

import org.lmcache4j.memory.FileLocks;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/**
 * One directory belongs to one disk tier: the tier holds an exclusive lock on
 * {@code DIR/.lmcache4j.lock} for as long as it is open, and writes its process id into the file
 * for whoever finds the directory taken. The kernel lets the lock go when the process dies,
 * however it dies.
 *
 * <p>That is what makes start-up cleaning safe: while a tier holds the claim, every temporary
 * file of the tier's naming pattern ({@code *.tmp-*}) in the directory is its own; when a new tier
 * gets the claim, every such file is the leftover of a process that died mid-write, whatever its
 * age, and is removed. {@code lmcache4j disk check --repair} takes the same claim.
 *
 * <p>The lock is {@code flock(2)} on a read-only descriptor ({@link FileLocks}): it excludes other processes and other tiers of this one alike, and
 * holds no file open for writing, so an operator can still remount the file system read-only
 * under a running engine (the tier then skips writes, see {@link DiskHealth}). Where that binding
 * is unavailable it falls back to {@link FileChannel#tryLock()}, which needs the file open for
 * writing. The lock file is never deleted: that would let a second opener lock a new file of the
 * same name while the first still holds the old one.
 */
final class DirectoryClaim implements AutoCloseable {
    static final String FILE_NAME = ".lmcache4j.lock";

    private final AutoCloseable held;

    private DirectoryClaim(AutoCloseable held) {
        this.held = held;
    }

    /** Claims {@code dir}, or says who holds it. */
    static DirectoryClaim take(Path dir) throws IOException {
        Path file = dir.resolve(FILE_NAME);
        try {
            Files.createFile(file);
        } catch (FileAlreadyExistsException ignored) {
            // left by an earlier tier: the lock, not the file, is the claim
        }
        AutoCloseable held;
        try {
            held = FileLocks.tryLockExclusive(file);
        } catch (UnsupportedOperationException noFlock) {
            held = channelLock(file);
        }
        if (held == null) {
            String pid = holder(file);
            throw new IOException(dir + " is in use by another disk tier (" + (pid.equals(ownPid())
                    ? "in this process" : "process " + pid) + " holds " + file + "): one directory belongs to one engine");
        }
        try {
            Files.writeString(file, ownPid() + "\n", StandardCharsets.US_ASCII);
        } catch (IOException ignored) {
            // the pid is only for the message above; a read-only directory fails later, clearly
        }
        return new DirectoryClaim(held);
    }

    private static AutoCloseable channelLock(Path file) throws IOException {
        FileChannel ch = FileChannel.open(file, StandardOpenOption.READ, StandardOpenOption.WRITE);
        try {
            FileLock lock = ch.tryLock();
            if (lock != null) {
                return ch; // closing the channel lets the lock go
            }
        } catch (OverlappingFileLockException e) {
            // another tier of this process holds it
        }
        ch.close();
        return null;
    }

    private static String ownPid() {
        return Long.toString(ProcessHandle.current().pid());
    }

    private static String holder(Path file) {
        try {
            String pid = Files.readString(file, StandardCharsets.US_ASCII).trim();
            return pid.isEmpty() ? "unknown" : pid;
        } catch (IOException e) {
            return "unknown";
        }
    }

    @Override
    public void close() {
        try {
            held.close();
        } catch (Exception ignored) {
            // the process's end lets the lock go in any case
        }
    }
}
