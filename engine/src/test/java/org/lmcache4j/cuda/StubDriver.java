package org.lmcache4j.cuda;

import java.io.IOException;
import java.nio.file.Path;

/**
 * A stand-in {@code libcuda.so.1}: cuInit answers {@code INIT_RC}, cuDeviceGetCount reports
 * {@code DEVICES}, and cuPointerGetAttribute calls addresses at or above {@code DEVICE_BASE}
 * memory of device 0. It makes the driver paths of the probe and the selector testable without a GPU.
 */
final class StubDriver {
    /** Where the stub's "device memory" starts: addresses no host mapping uses in these tests. */
    static final long DEVICE_BASE = 0x7e0000000000L;

    private static final String SOURCE = """
            #ifndef INIT_RC
            #define INIT_RC 0
            #endif
            int cuInit(unsigned flags);
            int cuDeviceGetCount(int *count);
            int cuGetErrorString(int error, const char **text);
            int cuPointerGetAttribute(void *data, int attribute, unsigned long long ptr);
            int cuInit(unsigned flags) { (void) flags; return INIT_RC; }
            int cuDeviceGetCount(int *count) { *count = DEVICES; return 0; }
            int cuGetErrorString(int error, const char **text) {
                *text = error == 100 ? "CUDA_ERROR_NO_DEVICE" : "stub error";
                return 0;
            }
            int cuPointerGetAttribute(void *data, int attribute, unsigned long long ptr) {
                if (ptr < DEVICE_BASE) return 1;                    /* CUDA_ERROR_INVALID_VALUE */
                if (attribute == 2) *(unsigned *) data = 2;         /* MEMORY_TYPE: CU_MEMORYTYPE_DEVICE */
                else if (attribute == 9) *(int *) data = 0;         /* DEVICE_ORDINAL */
                else return 1;
                return 0;
            }
            """;

    private StubDriver() {
    }

    /** Builds a stub in its own folder under {@code dir} (a library can be loaded once per path). */
    static Path build(Path dir, int devices, int initRc) throws IOException, InterruptedException {
        Path sub = java.nio.file.Files.createDirectories(dir.resolve("stub-" + devices + "-" + initRc));
        return NativeBuild.sharedLibrary(sub, "libcuda.so.1", "stub_cuda.c", SOURCE,
                "-DDEVICES=" + devices, "-DINIT_RC=" + initRc, "-DDEVICE_BASE=" + DEVICE_BASE + "ULL");
    }
}
