package org.lmcache4j.cuda;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandle;
import java.nio.file.Path;
import java.util.Optional;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * Finds out whether CUDA can be used, through {@code java.lang.foreign} alone: JCuda loads
 * {@code libcuda.so.1} in its class initialiser and fails for good where it is missing, so no
 * JCuda class may be touched until this probe has seen the driver and a device.
 *
 * <p>The driver library is {@code libcuda.so.1} from the loader's search path, or the file named
 * by the system property {@value #LIBRARY_PROPERTY} or the environment variable
 * {@value #LIBRARY_ENV} (tests point it at a stub; an unusual install at its driver).
 */
public final class CudaProbe {
    public static final String LIBRARY_PROPERTY = "lmcache4j.cuda.driver";
    public static final String LIBRARY_ENV = "LMCACHE4J_CUDA_DRIVER";
    static final String DEFAULT_LIBRARY = "libcuda.so.1";
    static final int CUDA_ERROR_NO_DEVICE = 100;
    /** {@code CU_POINTER_ATTRIBUTE_MEMORY_TYPE} and its answer for device memory. */
    static final int CU_POINTER_ATTRIBUTE_MEMORY_TYPE = 2;
    static final int CU_MEMORYTYPE_DEVICE = 2;
    static final int CU_POINTER_ATTRIBUTE_DEVICE_ORDINAL = 9;

    public enum State { NO_DRIVER, NO_DEVICE, DEVICES }

    /**
     * What the probe found.
     *
     * @param state   no driver, a driver without a (usable) device, or devices
     * @param devices the device count (0 unless {@link State#DEVICES})
     * @param reason  the finding in words, for the log
     */
    public record Result(State state, int devices, String reason, Optional<Driver> driver) {
        public boolean devicesPresent() {
            return state == State.DEVICES;
        }
    }

    /** The driver calls the engine makes before JCuda is loaded; bound only when a device is there. */
    public static final class Driver {
        private final MethodHandle pointerGetAttribute;

        Driver(MethodHandle pointerGetAttribute) {
            this.pointerGetAttribute = pointerGetAttribute;
        }

        /**
         * Whether {@code address} is device memory. Host memory unknown to CUDA makes the driver
         * answer an error, which means "not device memory" here.
         */
        public boolean isDeviceMemory(long address) {
            return attribute(address, CU_POINTER_ATTRIBUTE_MEMORY_TYPE) == CU_MEMORYTYPE_DEVICE;
        }

        /** The device whose memory {@code address} is, or -1 where it is not device memory. */
        public int deviceOf(long address) {
            return isDeviceMemory(address) ? attribute(address, CU_POINTER_ATTRIBUTE_DEVICE_ORDINAL) : -1;
        }

        /** A 4-byte pointer attribute, or -1 where the driver answers an error. */
        private int attribute(long address, int attribute) {
            if (pointerGetAttribute == null) {
                return -1;
            }
            try (Arena arena = Arena.ofConfined()) {
                MemorySegment value = arena.allocate(JAVA_INT);
                int rc = (int) pointerGetAttribute.invokeExact(value, attribute, address);
                return rc == 0 ? value.get(JAVA_INT, 0) : -1;
            } catch (Throwable t) {
                return -1;
            }
        }
    }

    private CudaProbe() {
    }

    private static final class System {
        static final Result RESULT = probe(configuredLibrary());
    }

    /** The probe of this process's driver, done once: cuInit is not something to repeat. */
    public static Result system() {
        return System.RESULT;
    }

    static String configuredLibrary() {
        String v = java.lang.System.getProperty(LIBRARY_PROPERTY);
        if (v == null || v.isBlank()) {
            v = java.lang.System.getenv(LIBRARY_ENV);
        }
        return v == null || v.isBlank() ? DEFAULT_LIBRARY : v;
    }

    /**
     * Probes the driver library {@code library}: a file path (with a '/') or a name the dynamic
     * loader searches for. The library stays loaded: a driver is never unloaded after cuInit.
     */
    public static Result probe(String library) {
        SymbolLookup lib;
        try {
            lib = library.contains("/")
                    ? SymbolLookup.libraryLookup(Path.of(library), Arena.global())
                    : SymbolLookup.libraryLookup(library, Arena.global());
        } catch (IllegalArgumentException e) {
            return new Result(State.NO_DRIVER, 0, "no CUDA driver: " + library + " could not be loaded",
                    Optional.empty());
        }
        Linker linker = Linker.nativeLinker();
        try {
            MethodHandle init = bind(linker, lib, "cuInit", FunctionDescriptor.of(JAVA_INT, JAVA_INT));
            MethodHandle count = bind(linker, lib, "cuDeviceGetCount", FunctionDescriptor.of(JAVA_INT, ADDRESS));
            int rc = (int) init.invokeExact(0);
            if (rc != 0) {
                String why = rc == CUDA_ERROR_NO_DEVICE ? "no CUDA device" : "cuInit failed";
                return new Result(State.NO_DEVICE, 0, why + " (" + library + ": cuInit returned "
                        + rc + " " + errorString(linker, lib, rc) + ")", Optional.empty());
            }
            int devices;
            try (Arena arena = Arena.ofConfined()) {
                MemorySegment n = arena.allocate(JAVA_INT);
                rc = (int) count.invokeExact(n);
                devices = rc == 0 ? n.get(JAVA_INT, 0) : 0;
            }
            if (rc != 0 || devices <= 0) {
                return new Result(State.NO_DEVICE, 0, "CUDA driver " + library + " present but "
                        + (rc != 0 ? "cuDeviceGetCount returned " + rc + " " + errorString(linker, lib, rc)
                        : "it sees no device"), Optional.empty());
            }
            MethodHandle attr = lib.find("cuPointerGetAttribute")
                    .map(s -> linker.downcallHandle(s, FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, JAVA_LONG)))
                    .orElse(null);
            return new Result(State.DEVICES, devices, devices + " CUDA device(s) through " + library,
                    Optional.of(new Driver(attr)));
        } catch (Throwable t) {
            return new Result(State.NO_DEVICE, 0, "CUDA driver " + library + " is unusable: " + t,
                    Optional.empty());
        }
    }

    private static MethodHandle bind(Linker linker, SymbolLookup lib, String name, FunctionDescriptor fd) {
        return linker.downcallHandle(lib.find(name).orElseThrow(
                () -> new IllegalStateException("the driver lacks " + name)), fd);
    }

    /** The driver's name for an error code, or the bare code where it has none. */
    private static String errorString(Linker linker, SymbolLookup lib, int rc) {
        try (Arena arena = Arena.ofConfined()) {
            MethodHandle h = bind(linker, lib, "cuGetErrorString", FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS));
            MemorySegment out = arena.allocate(ADDRESS);
            if ((int) h.invokeExact(rc, out) != 0) {
                return "(unknown error)";
            }
            MemorySegment s = out.get(ADDRESS, 0);
            return s.equals(MemorySegment.NULL) ? "(unknown error)" : "(" + s.reinterpret(Long.MAX_VALUE).getString(0) + ")";
        } catch (Throwable t) {
            return "(no error string)";
        }
    }
}
