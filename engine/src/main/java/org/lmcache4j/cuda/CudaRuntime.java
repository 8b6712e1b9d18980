package org.lmcache4j.cuda;

import org.lmcache4j.memory.CudaSlabRegistrar;
import org.lmcache4j.memory.SlabRegistrar;
import org.lmcache4j.transfer.CudaKvTransfer;
import org.lmcache4j.transfer.KvTransfer;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.Map;

/**
 * What the engine builds from a probe: the slab registrar and the CUDA transfer. The only place
 * that names the JCuda-backed classes, and it constructs them only when the probe saw a device,
 * so that on a machine without a driver no JCuda class is ever loaded.
 */
public final class CudaRuntime {
    /** {@code extra_config} key: {@code kernel} (default) or {@code dma}. */
    public static final String MODE_KEY = "cuda_transfer";
    public static final String FATBIN_PROPERTY = "lmcache4j.cuda.fatbin";
    public static final String FATBIN_ENV = "LMCACHE4J_CUDA_FATBIN";
    /** Where a packaging step may put native/build/kv_transfer.fatbin on the classpath. */
    static final String FATBIN_RESOURCE = "/org/lmcache4j/cuda/kv_transfer.fatbin";

    private CudaRuntime() {
    }

    /** {@code extra_config.cuda_transfer}, checked when the engine opens even where there is no GPU. */
    public static CudaKvTransfer.Mode mode(Map<String, Object> extraConfig) {
        Object v = extraConfig.getOrDefault(MODE_KEY, "kernel");
        return switch (String.valueOf(v).trim().toLowerCase(Locale.ROOT)) {
            case "kernel" -> CudaKvTransfer.Mode.KERNEL;
            case "dma" -> CudaKvTransfer.Mode.DMA;
            default -> throw new IllegalArgumentException("extra_config." + MODE_KEY + " must be kernel or dma, got '" + v + "'");
        };
    }

    /** The selector an engine uses by default: this process's driver, the mode from its config. */
    public static TransferSelector selector(CudaProbe.Result probe, Map<String, Object> extraConfig) {
        CudaKvTransfer.Mode mode = mode(extraConfig);
        return new TransferSelector(probe, new TransferSelector.CudaFactory() {
            @Override
            public KvTransfer transfer(int device, long cacheAddress) {
                return new CudaKvTransfer(mode, CudaRuntime::fatbin, device, cacheAddress);
            }

            @Override
            public SlabRegistrar registrar(int device) {
                return new CudaSlabRegistrar(device);
            }
        });
    }

    /**
     * A CUDA transfer of its own for caches on {@code device} (the server's, per client with
     * device caches), the mode from {@code extraConfig}.
     */
    public static KvTransfer transfer(Map<String, Object> extraConfig, int device, long cacheAddress) {
        return new CudaKvTransfer(mode(extraConfig), CudaRuntime::fatbin, device, cacheAddress);
    }

    /** What page-locks pool slabs for {@code device}. */
    public static SlabRegistrar registrar(int device) {
        return new CudaSlabRegistrar(device);
    }

    /** The kernels: the file named by the property or variable, else the classpath resource. */
    static byte[] fatbin() {
        String file = System.getProperty(FATBIN_PROPERTY, System.getenv(FATBIN_ENV));
        try {
            if (file != null && !file.isBlank()) {
                return Files.readAllBytes(Path.of(file));
            }
            try (InputStream in = CudaRuntime.class.getResourceAsStream(FATBIN_RESOURCE)) {
                if (in == null) {
                    throw new IllegalStateException("the KV caches are on the GPU but no kernels were found: set "
                            + FATBIN_PROPERTY + " or " + FATBIN_ENV + " to native/build/kv_transfer.fatbin"
                            + " (make -C native cuda), or put it on the classpath at " + FATBIN_RESOURCE);
                }
                return in.readAllBytes();
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read the CUDA kernels " + file, e);
        }
    }
}
