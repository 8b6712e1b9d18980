package org.lmcache4j;

import org.junit.jupiter.api.Assumptions;
import org.lmcache4j.cuda.CudaProbe;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandle;
import java.nio.file.Files;
import java.nio.file.Path;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * The CPU-run CUDA driver (native/build/cuda-emulator/libcuda.so.1) as the tests tagged
 * {@code cuda} see it: the engine's probe loads it through {@code LMCACHE4J_CUDA_DRIVER} (the
 * surefire execution {@code cuda-emulator} sets it), and these bindings read its instrument API
 * (native/cuda-emulator/lmcache4j_cuda_emulator.h) from the same loaded library.
 *
 * <p>{@link #require()} fails the test where ./test.sh promised the emulator
 * ({@code LMCACHE4J_REQUIRE_CUDA_EMULATOR=1}) and skips it, saying why, elsewhere.
 */
public final class CudaEmulator {
    /** Live resources and totals, as lmcache4j_cuda_emulator_counts fills them. */
    public record Counts(long contexts, long primaryRetains, long deviceAllocations, long deviceBytes, long streams,
                         long events, long modules, long hostRegistrations, long hostAllocations, long faults,
                         long launches, long copies, long unsupportedCalls, long reclaimedAtContextDestroy) {
        /** The live resources, and the leaks reclaimed (the other totals grow with any work). */
        public Counts owned() {
            return new Counts(contexts, primaryRetains, deviceAllocations, deviceBytes, streams, events, modules,
                    hostRegistrations, hostAllocations, faults, 0, 0, 0, reclaimedAtContextDestroy);
        }
    }

    private static final int STRUCT_BYTES = 120;
    private static CudaEmulator instance;
    private static String missing;

    private final MethodHandle counts;
    private final MethodHandle setDelay;
    private final MethodHandle lastFault;
    public final Path fatbin;

    private CudaEmulator(SymbolLookup lib, Path fatbin) {
        Linker linker = Linker.nativeLinker();
        counts = linker.downcallHandle(lib.find("lmcache4j_cuda_emulator_counts").orElseThrow(),
                FunctionDescriptor.of(JAVA_INT, ADDRESS));
        setDelay = linker.downcallHandle(lib.find("lmcache4j_cuda_emulator_set_delay_us").orElseThrow(),
                FunctionDescriptor.ofVoid(JAVA_INT));
        lastFault = linker.downcallHandle(lib.find("lmcache4j_cuda_emulator_last_fault").orElseThrow(),
                FunctionDescriptor.of(ADDRESS));
        this.fatbin = fatbin;
    }

    /** The emulator this JVM's probe loaded, or the test is failed (CI) or skipped with the reason. */
    public static synchronized CudaEmulator require() {
        if (instance == null && missing == null) {
            missing = find();
            if (missing != null) {
                System.out.println("CUDA emulator tests: " + missing);
            }
        }
        if (missing != null) {
            if ("1".equals(System.getenv("LMCACHE4J_REQUIRE_CUDA_EMULATOR"))) {
                throw new AssertionError("the CUDA path must run here, but " + missing);
            }
            Assumptions.abort(missing);
        }
        return instance;
    }

    private static String find() {
        String driver = System.getenv(CudaProbe.LIBRARY_ENV);
        if (driver == null || !Files.isRegularFile(Path.of(driver))) {
            return "no CPU-run CUDA driver at " + driver + ": make -C native cuda-emulator";
        }
        String fatbin = System.getenv("LMCACHE4J_CUDA_FATBIN");
        if (fatbin == null || !Files.isRegularFile(Path.of(fatbin))) {
            return "no kernels at " + fatbin + ": make -C native cuda (needs nvcc)";
        }
        CudaProbe.Result probe = CudaProbe.system();
        if (!probe.devicesPresent()) {
            return "the probe did not see the emulator's device: " + probe.reason();
        }
        SymbolLookup lib = SymbolLookup.libraryLookup(Path.of(driver), Arena.global());
        if (lib.find("lmcache4j_cuda_emulator_counts").isEmpty()) {
            return driver + " is not the CPU-run CUDA driver";
        }
        instance = new CudaEmulator(lib, Path.of(fatbin));
        return null;
    }

    public Counts counts() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment s = arena.allocate(STRUCT_BYTES, 8);
            s.set(JAVA_INT, 0, STRUCT_BYTES);
            int rc = (int) counts.invokeExact(s);
            if (rc != 0) {
                throw new IllegalStateException("lmcache4j_cuda_emulator_counts returned " + rc);
            }
            long[] v = new long[14];
            for (int i = 0; i < v.length; i++) {
                v[i] = s.get(JAVA_LONG, 8 + 8L * i);
            }
            return new Counts(v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7], v[8], v[9], v[10], v[11], v[12], v[13]);
        } catch (Throwable t) {
            throw t instanceof RuntimeException r ? r : new IllegalStateException(t);
        }
    }

    /** Each stream op sleeps this long before it runs, so a missing wait shows as wrong bytes. */
    public void delayMicros(int micros) {
        try {
            setDelay.invokeExact(micros);
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
    }

    public String lastFault() {
        try {
            MemorySegment s = (MemorySegment) lastFault.invokeExact();
            return s.reinterpret(4096).getString(0);
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
    }

    /** Asserts that nothing the engine made on the device outlived it: counts back where they were. */
    public void assertNothingLeaked(Counts before) {
        assertEquals(before.owned(), counts().owned(), "device resources left behind");
    }
}
