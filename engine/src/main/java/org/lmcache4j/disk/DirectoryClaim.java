package org.lmcache4j.disk;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.VarHandle;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicBoolean;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;

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
 * <p>The lock is {@code flock(2)} on a read-only descriptor (bound through
 * {@code java.lang.foreign}): it excludes other processes and other tiers of this one alike, and
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
        Optional<Flock> flock = Flock.INSTANCE;
        AutoCloseable held = flock.isPresent() ? flock.get().lock(file) : channelLock(file);
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

    /** {@code open}, {@code flock} and {@code close} from libc, with {@code errno} captured. */
    private static final class Flock {
        static final Optional<Flock> INSTANCE = bind();
        private static final int O_RDONLY = 0;
        private static final int O_CLOEXEC = 0x80000;
        private static final int LOCK_EX = 2;
        private static final int LOCK_NB = 4;
        private static final int EWOULDBLOCK = 11;
        private static final StructLayout CALL_STATE = Linker.Option.captureStateLayout();
        private static final VarHandle ERRNO = CALL_STATE.varHandle(MemoryLayout.PathElement.groupElement("errno"));

        private final MethodHandle open;
        private final MethodHandle flock;
        private final MethodHandle close;

        private Flock(MethodHandle open, MethodHandle flock, MethodHandle close) {
            this.open = open;
            this.flock = flock;
            this.close = close;
        }

        private static Optional<Flock> bind() {
            if (!System.getProperty("os.name", "").toLowerCase().contains("linux")) {
                return Optional.empty();
            }
            try {
                Linker linker = Linker.nativeLinker();
                SymbolLookup libc = linker.defaultLookup();
                Linker.Option errno = Linker.Option.captureCallState("errno");
                return Optional.of(new Flock(
                        linker.downcallHandle(libc.find("open").orElseThrow(),
                                FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT),
                                Linker.Option.firstVariadicArg(2), errno),
                        linker.downcallHandle(libc.find("flock").orElseThrow(),
                                FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT), errno),
                        linker.downcallHandle(libc.find("close").orElseThrow(),
                                FunctionDescriptor.of(JAVA_INT, JAVA_INT))));
            } catch (RuntimeException | LinkageError e) {
                return Optional.empty();
            }
        }

        /** Locks {@code file}; returns what lets it go, or null when another description holds it. */
        AutoCloseable lock(Path file) throws IOException {
            try (Arena arena = Arena.ofConfined()) {
                MemorySegment state = arena.allocate(CALL_STATE);
                int fd = (int) open.invokeExact(state, arena.allocateFrom(file.toString()), O_RDONLY | O_CLOEXEC, 0);
                if (fd < 0) {
                    throw new IOException("cannot open " + file + " (errno " + (int) ERRNO.get(state, 0L) + ")");
                }
                if ((int) flock.invokeExact(state, fd, LOCK_EX | LOCK_NB) == 0) {
                    AtomicBoolean open = new AtomicBoolean(true);
                    return () -> {
                        if (open.getAndSet(false)) {
                            closeFd(fd);
                        }
                    };
                }
                int err = (int) ERRNO.get(state, 0L);
                closeFd(fd);
                // Another description holds it; any other answer (a file system without flock): the portable lock.
                return err == EWOULDBLOCK ? null : channelLock(file);
            } catch (IOException | RuntimeException | Error e) {
                throw e;
            } catch (Throwable t) {
                throw new IOException("cannot lock " + file, t);
            }
        }

        private void closeFd(int fd) throws IOException {
            try {
                int _ = (int) close.invokeExact(fd);
            } catch (Throwable t) {
                throw new IOException("cannot close the lock file", t);
            }
        }
    }
}
