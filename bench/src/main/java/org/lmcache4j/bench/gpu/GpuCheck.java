package org.lmcache4j.bench.gpu;

import org.lmcache4j.cuda.CudaProbe;
import org.lmcache4j.transfer.CudaKvTransfer;
import org.lmcache4j.transfer.DeviceMemory;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * The GPU check that {@code bench/gpu/check.sh run} runs on a machine with an NVIDIA GPU and no
 * JDK: byte-exact round trips of {@link CudaKvTransfer} against the host transfer in every format
 * and both modes, ordered with a caller's stream ({@link GpuExactness}); the bandwidth of a
 * Mistral-7B chunk's store and retrieve against pinned {@code cuMemcpy} of the same bytes in the
 * same run, and how long the caller's stream is held per chunk ({@link GpuBandwidth}); then
 * {@code replay --device cuda} in kernel and DMA modes ({@link GpuReplay}). Prints a table last.
 *
 * <p>On the CPU-run CUDA driver (a test instrument: ./test.sh runs the check on it) every
 * correctness line runs and no speed is measured. {@code --quick} shrinks the replays.
 * Exit status: 0 all exact, 1 a mismatch, 3 no GPU.
 */
public final class GpuCheck {
    private GpuCheck() {
    }

    public static void main(String[] args) throws IOException {
        boolean quick = List.of(args).contains("--quick");
        CudaProbe.Result probe = CudaProbe.system();
        if (!probe.devicesPresent()) {
            System.out.println("GPU check: no GPU here (" + probe.reason() + "): nothing to check");
            System.exit(3);
        }
        byte[] fatbin = Files.readAllBytes(Path.of(System.getProperty("lmcache4j.cuda.fatbin",
                "native/build/kv_transfer.fatbin")));
        List<String> table = new ArrayList<>();
        long mismatches = 0;
        String name;
        boolean emulated;
        try (DeviceMemory memory = new DeviceMemory(0)) {
            name = memory.name();
            emulated = name.contains("emulator");
            for (CudaKvTransfer.Mode mode : CudaKvTransfer.Mode.values()) {
                mismatches += GpuExactness.check(memory, mode, fatbin, table);
            }
            if (emulated) {
                table.add("bandwidth  not measured: the CPU-run CUDA driver is a test instrument, not a GPU");
            } else {
                table.addAll(GpuBandwidth.measure(memory, fatbin));
            }
        }
        for (CudaKvTransfer.Mode mode : CudaKvTransfer.Mode.values()) {
            mismatches += GpuReplay.run(mode, quick, emulated, table);
        }
        System.out.println("\n== LMCache4j GPU check on " + name + " (" + probe.reason() + ")");
        table.forEach(System.out::println);
        System.exit(mismatches == 0 ? 0 : 1);
    }
}
