package org.lmcache4j.transfer;

import org.lmcache4j.cuda.CudaProbe;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;
import java.nio.file.Path;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * Long "compute" on a stream, for the ordering tests: {@code cuLaunchHostFunc} with a host
 * function that sleeps, so the stream is busy for that long before the work queued after it.
 * Called through java.lang.foreign (the upcall runs on the driver's stream thread).
 */
final class HostFunction {
    private static final MethodHandle LAUNCH;
    private static final MethodHandle RETAIN;
    private static final MethodHandle RELEASE;
    private static final MethodHandle PUSH;
    private static final MethodHandle POP;
    private static final MemorySegment SLEEPER;

    static {
        try {
            String driver = System.getenv(CudaProbe.LIBRARY_ENV);
            SymbolLookup lib = SymbolLookup.libraryLookup(Path.of(driver), Arena.global());
            Linker linker = Linker.nativeLinker();
            LAUNCH = linker.downcallHandle(lib.find("cuLaunchHostFunc").orElseThrow(),
                    FunctionDescriptor.of(JAVA_INT, JAVA_LONG, ADDRESS, ADDRESS));
            RETAIN = linker.downcallHandle(lib.find("cuDevicePrimaryCtxRetain").orElseThrow(),
                    FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT));
            RELEASE = linker.downcallHandle(lib.find("cuDevicePrimaryCtxRelease_v2").orElseThrow(),
                    FunctionDescriptor.of(JAVA_INT, JAVA_INT));
            PUSH = linker.downcallHandle(lib.find("cuCtxPushCurrent_v2").orElseThrow(),
                    FunctionDescriptor.of(JAVA_INT, JAVA_LONG));
            POP = linker.downcallHandle(lib.find("cuCtxPopCurrent_v2").orElseThrow(),
                    FunctionDescriptor.of(JAVA_INT, ADDRESS));
            MethodHandle sleep = MethodHandles.lookup().findStatic(HostFunction.class, "sleep",
                    MethodType.methodType(void.class, MemorySegment.class));
            SLEEPER = linker.upcallStub(sleep, FunctionDescriptor.ofVoid(ADDRESS), Arena.global());
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    private HostFunction() {
    }

    /** Queues {@code millis} of sleep on {@code stream}, a stream of device 0's primary context (0: its default stream). */
    static void sleep(long stream, long millis) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment ctx = arena.allocate(ADDRESS);
            check("cuDevicePrimaryCtxRetain", (int) RETAIN.invokeExact(ctx, 0));
            check("cuCtxPushCurrent", (int) PUSH.invokeExact(ctx.get(JAVA_LONG, 0)));
            try {
                check("cuLaunchHostFunc", (int) LAUNCH.invokeExact(stream, SLEEPER, MemorySegment.ofAddress(millis)));
            } finally {
                check("cuCtxPopCurrent", (int) POP.invokeExact(ctx));
                check("cuDevicePrimaryCtxRelease", (int) RELEASE.invokeExact(0));
            }
        } catch (Throwable t) {
            throw t instanceof RuntimeException r ? r : new IllegalStateException(t);
        }
    }

    private static void check(String call, int rc) {
        if (rc != 0) {
            throw new IllegalStateException(call + " returned " + rc);
        }
    }

    private static void sleep(MemorySegment millis) {
        try {
            Thread.sleep(millis.address());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
