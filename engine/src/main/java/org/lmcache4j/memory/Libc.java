package org.lmcache4j.memory;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.VarHandle;
import java.util.Optional;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * The libc calls the engine needs, bound through {@code java.lang.foreign} with {@code errno}
 * captured so that failures say why: {@code mmap}, {@code munmap}, {@code madvise} for the pool,
 * and {@code open}, {@code flock}, {@code close} for the disk tier's directory claim
 * ({@link FileLocks}), and {@code memfd_create}, {@code ftruncate} and shared mappings for the
 * server's pool, whose slabs its clients map ({@link SharedSlabSource}). {@link #load()} is empty where the platform has no such symbols; the pool
 * then falls back to {@link ArenaSlabSource}, the claim to a Java file lock.
 */
final class Libc {
    static final int PROT_READ = 0x1;
    static final int PROT_WRITE = 0x2;
    static final int MAP_SHARED = 0x01;
    static final int MAP_PRIVATE = 0x02;
    static final int MAP_FIXED = 0x10;
    static final int MFD_CLOEXEC = 0x1;
    static final int MAP_ANONYMOUS = 0x20;
    static final int MAP_NORESERVE = 0x4000;
    static final int MADV_HUGEPAGE = 14;
    /** Linux 5.14+: fault pages in writable without changing their contents. */
    static final int MADV_POPULATE_WRITE = 23;
    static final long MAP_FAILED = -1L;
    /** errno of an advice the kernel does not know. */
    static final int EINVAL = 22;
    static final int O_RDONLY = 0;
    static final int O_CLOEXEC = 0x80000;
    static final int LOCK_EX = 2;
    static final int LOCK_NB = 4;
    /** errno of a flock that another open file description holds. */
    static final int EWOULDBLOCK = 11;

    private static final StructLayout CALL_STATE = Linker.Option.captureStateLayout();
    private static final VarHandle ERRNO =
            CALL_STATE.varHandle(MemoryLayout.PathElement.groupElement("errno"));

    private final MethodHandle mmap;
    private final MethodHandle munmap;
    private final MethodHandle madvise;
    private final MethodHandle open;
    private final MethodHandle flock;
    private final MethodHandle close;
    private final MethodHandle memfdCreate;
    private final MethodHandle ftruncate;

    private Libc(MethodHandle mmap, MethodHandle munmap, MethodHandle madvise, MethodHandle open, MethodHandle flock,
                 MethodHandle close, MethodHandle memfdCreate, MethodHandle ftruncate) {
        this.mmap = mmap;
        this.munmap = munmap;
        this.madvise = madvise;
        this.open = open;
        this.flock = flock;
        this.close = close;
        this.memfdCreate = memfdCreate;
        this.ftruncate = ftruncate;
    }

    private static final class Holder {
        static final Optional<Libc> INSTANCE = bind();
    }

    static Optional<Libc> load() {
        return Holder.INSTANCE;
    }

    private static Optional<Libc> bind() {
        if (!System.getProperty("os.name", "").toLowerCase().contains("linux")) {
            return Optional.empty();
        }
        try {
            Linker linker = Linker.nativeLinker();
            SymbolLookup libc = linker.defaultLookup();
            Linker.Option errno = Linker.Option.captureCallState("errno");
            MethodHandle mmap = linker.downcallHandle(libc.find("mmap").orElseThrow(),
                    FunctionDescriptor.of(JAVA_LONG, ADDRESS, JAVA_LONG, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_LONG),
                    errno);
            MethodHandle munmap = linker.downcallHandle(libc.find("munmap").orElseThrow(),
                    FunctionDescriptor.of(JAVA_INT, JAVA_LONG, JAVA_LONG), errno);
            MethodHandle madvise = linker.downcallHandle(libc.find("madvise").orElseThrow(),
                    FunctionDescriptor.of(JAVA_INT, JAVA_LONG, JAVA_LONG, JAVA_INT), errno);
            MethodHandle open = linker.downcallHandle(libc.find("open").orElseThrow(),
                    FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT), Linker.Option.firstVariadicArg(2), errno);
            MethodHandle flock = linker.downcallHandle(libc.find("flock").orElseThrow(),
                    FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT), errno);
            MethodHandle close = linker.downcallHandle(libc.find("close").orElseThrow(),
                    FunctionDescriptor.of(JAVA_INT, JAVA_INT));
            MethodHandle memfdCreate = linker.downcallHandle(libc.find("memfd_create").orElseThrow(),
                    FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT), errno);
            MethodHandle ftruncate = linker.downcallHandle(libc.find("ftruncate").orElseThrow(),
                    FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_LONG), errno);
            return Optional.of(new Libc(mmap, munmap, madvise, open, flock, close, memfdCreate, ftruncate));
        } catch (RuntimeException | LinkageError e) {
            return Optional.empty();
        }
    }

    /** Maps {@code bytes} of private anonymous memory; returns its address. */
    long mapAnonymous(long bytes) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment state = arena.allocate(CALL_STATE);
            long addr = (long) mmap.invokeExact(state, MemorySegment.NULL, bytes,
                    PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0L);
            if (addr == MAP_FAILED) {
                throw new OutOfMemoryError("mmap of " + bytes + " bytes failed: errno " + errno(state));
            }
            return addr;
        } catch (Error | RuntimeException e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
    }

    /** A fresh anonymous memory file of {@code bytes} (zeros, nothing allocated yet); returns its descriptor. */
    int memoryFile(String name, long bytes) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment state = arena.allocate(CALL_STATE);
            int fd = (int) memfdCreate.invokeExact(state, arena.allocateFrom(name), MFD_CLOEXEC);
            if (fd < 0) {
                throw new OutOfMemoryError("memfd_create failed: errno " + errno(state));
            }
            if ((int) ftruncate.invokeExact(state, fd, bytes) != 0) {
                int e = errno(state);
                closeFd(fd);
                throw new OutOfMemoryError("ftruncate of a memory file to " + bytes + " bytes failed: errno " + e);
            }
            return fd;
        } catch (Error | RuntimeException e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
    }

    /** Maps {@code bytes} of the file {@code fd} shared at exactly {@code addr}, replacing what was there. */
    void mapSharedAt(long addr, long bytes, int fd) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment state = arena.allocate(CALL_STATE);
            long got = (long) mmap.invokeExact(state, MemorySegment.ofAddress(addr), bytes,
                    PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, fd, 0L);
            if (got == MAP_FAILED) {
                throw new OutOfMemoryError("mmap of a memory file of " + bytes + " bytes failed: errno " + errno(state));
            }
        } catch (Error | RuntimeException e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
    }

    void unmap(long addr, long bytes) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment state = arena.allocate(CALL_STATE);
            if ((int) munmap.invokeExact(state, addr, bytes) != 0) {
                throw new IllegalStateException("munmap failed: errno " + errno(state));
            }
        } catch (Error | RuntimeException e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
    }

    /** Returns 0, or the errno of a failed madvise (advice is only ever a hint). */
    int advise(long addr, long bytes, int advice) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment state = arena.allocate(CALL_STATE);
            int rc = (int) madvise.invokeExact(state, addr, bytes, advice);
            return rc == 0 ? 0 : errno(state);
        } catch (Error | RuntimeException e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
    }

    /** A read-only descriptor of {@code path}, or {@code -errno}. */
    int openReadOnly(String path) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment state = arena.allocate(CALL_STATE);
            int fd = (int) open.invokeExact(state, arena.allocateFrom(path), O_RDONLY | O_CLOEXEC, 0);
            return fd >= 0 ? fd : -errno(state);
        } catch (Error | RuntimeException e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
    }

    /** Returns 0 once {@code fd} holds an exclusive lock, else the errno (EWOULDBLOCK: someone else's). */
    int lockExclusive(int fd) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment state = arena.allocate(CALL_STATE);
            return (int) flock.invokeExact(state, fd, LOCK_EX | LOCK_NB) == 0 ? 0 : errno(state);
        } catch (Error | RuntimeException e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
    }

    void closeFd(int fd) {
        try {
            int ignored = (int) close.invokeExact(fd);
        } catch (Error | RuntimeException e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
    }

    private static int errno(MemorySegment state) {
        return (int) ERRNO.get(state, 0L);
    }
}
