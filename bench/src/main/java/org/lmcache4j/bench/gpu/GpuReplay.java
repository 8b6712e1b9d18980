package org.lmcache4j.bench.gpu;

import org.lmcache4j.cli.Main;
import org.lmcache4j.transfer.CudaKvTransfer;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * {@code replay --device cuda} in one transfer mode, in this process: the main job with the paged
 * caches in device memory and every loaded byte read back and checked. Full size on a GPU
 * (Mistral-7B shape, the default workload), small with {@code --quick}.
 */
final class GpuReplay {
    private static final List<String> QUICK = List.of("--users", "3", "--rounds", "3", "--layers", "4",
            "--system-tokens", "300", "--question-tokens", "200", "--cpu-gb", "0.2");

    private GpuReplay() {
    }

    /** Runs it and adds its line to {@code table}; returns the mismatched bytes (1 if it failed outright). */
    static long run(CudaKvTransfer.Mode mode, boolean quick, boolean emulated, List<String> table) {
        List<String> argv = new ArrayList<>(List.of("replay", "--json", "--device", "cuda", "--cuda-transfer",
                mode.name().toLowerCase()));
        if (quick) {
            argv.addAll(QUICK);
        }
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        int status = Main.run(argv.toArray(String[]::new), new PrintStream(out, true, StandardCharsets.UTF_8), System.err);
        String json = out.toString(StandardCharsets.UTF_8);
        long mismatched = number(json, "mismatched_bytes");
        if (status != 0 || mismatched != 0) {
            table.add(String.format("replay     %-6s FAILED: exit %d, %d mismatched bytes", mode, status, mismatched));
            return Math.max(1, mismatched);
        }
        String speed = emulated ? "(no speed on the CPU-run driver)" : String.format(
                "store %.2f GB/s, retrieve %.2f GB/s", decimal(json, "store_gbps"), decimal(json, "retrieve_gbps"));
        table.add(String.format("replay     %-6s ok: %d requests, hit rate %.1f%%, %.2f GB verified, 0 mismatched bytes, %s",
                mode, number(json, "requests"), 100 * decimal(json, "hit_rate"), number(json, "verified_bytes") / 1e9, speed));
        return 0;
    }

    private static long number(String json, String key) {
        return (long) decimal(json, key);
    }

    private static double decimal(String json, String key) {
        Matcher m = Pattern.compile("\"" + key + "\"\\s*:\\s*(-?[0-9.eE+-]+)").matcher(json);
        return m.find() ? Double.parseDouble(m.group(1)) : -1;
    }
}
