package org.lmcache4j.cli;

import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.lmcache4j.CudaEmulator;
import org.yaml.snakeyaml.Yaml;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@code replay --device cuda} on the CPU-run CUDA driver, with its stream delay on: the paged
 * caches in device memory, every store and retrieve through the CUDA transfer, every loaded byte
 * read back and checked. No speed is read from it.
 */
@Tag("cuda")
class ReplayOnDeviceTest {
    private CudaEmulator emulator;

    @BeforeEach
    void emulator() {
        emulator = CudaEmulator.require();
    }

    @ParameterizedTest
    @CsvSource({"kernel, cuda, flash_attn", "dma, cuda:1, blocks_first", "kernel, cuda:0, mla"})
    @SuppressWarnings("unchecked")
    void replay_onDevice_verifiesEveryByte(String mode, String device, String format) {
        CudaEmulator.Counts before = emulator.counts();
        emulator.delayMicros(50);
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        int status;
        try {
            status = Main.run(new String[] {"replay", "--json", "--device", device, "--cuda-transfer", mode,
                            "--users", "3", "--rounds", "3", "--layers", "2", "--kv-heads", format.equals("mla") ? "1" : "2",
                            "--head-size", "64", "--format", format, "--system-tokens", "300", "--question-tokens", "200",
                            "--cpu-gb", "0.05"},
                    new PrintStream(out, true, StandardCharsets.UTF_8), new PrintStream(err, true, StandardCharsets.UTF_8));
        } finally {
            emulator.delayMicros(0);
        }
        String errors = err.toString(StandardCharsets.UTF_8);
        assertEquals(0, status, errors);
        Map<String, Object> j = (Map<String, Object>) new Yaml().load(out.toString(StandardCharsets.UTF_8));
        assertEquals("cuda-" + mode, j.get("transfer"));
        assertEquals(device.equals("cuda") ? "cuda:0" : device, j.get("device"));
        assertTrue(String.valueOf(j.get("device_name")).contains("emulator"), String.valueOf(j.get("device_name")));
        assertEquals(0, ((Number) j.get("mismatched_bytes")).longValue());
        assertTrue(((Number) j.get("hit_tokens")).longValue() > 0, "nothing was loaded: nothing was checked");
        assertTrue(((Number) j.get("verified_bytes")).longValue() > 0);
        assertEquals(0, ((Number) j.get("leases_at_end")).longValue());
        emulator.assertNothingLeaked(before);
    }
}
