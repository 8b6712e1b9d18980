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
 * The three libc calls the pool needs ({@code mmap}, {@code munmap}, {@code madvise}), bound
 * through {@code java.lang.foreign} with {@code errno} captured so that failures say why.
 * {@link #load()} is empty where the platform has no such symbols; the pool then falls back to
 * {@link ArenaSlabSource}.
 */
final class Libc {
    static final int PROT_READ = 0x1;
    static final int PROT_WRITE = 0x2;
    static final int MAP_PRIVATE = 0x02;
    static final int MAP_ANONYMOUS = 0x20;
    static final int MAP_NORESERVE = 0x4000;
    static final int MADV_HUGEPAGE = 14;
    /** Linux 5.14+: fault pages in writable without changing their contents. */
    static final int MADV_POPULATE_WRITE = 23;
    static final long MAP_FAILED = -1L;
    /** errno of an advice the kernel does not know. */
    static final int EINVAL = 22;

    private static final StructLayout CALL_STATE = Linker.Option.captureStateLayout();
    private static final VarHandle ERRNO =
            CALL_STATE.varHandle(MemoryLayout.PathElement.groupElement("errno"));

    private final MethodHandle mmap;
    private final MethodHandle munmap;
    private final MethodHandle madvise;

    private Libc(MethodHandle mmap, MethodHandle munmap, MethodHandle madvise) {
        this.mmap = mmap;
        this.munmap = munmap;
        this.madvise = madvise;
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
            return Optional.of(new Libc(mmap, munmap, madvise));
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

    private static int errno(MemorySegment state) {
        return (int) ERRNO.get(state, 0L);
    }
}
