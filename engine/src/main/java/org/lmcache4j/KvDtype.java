package org.lmcache4j;

import java.util.Locale;

/** Element type of the serving engine's KV cache. Only the element size matters to the copies. */
public enum KvDtype {
    FLOAT16(2, "float16"),
    BFLOAT16(2, "bfloat16"),
    FLOAT32(4, "float32"),
    FP8_E4M3(1, "float8_e4m3fn"),
    FP8_E5M2(1, "float8_e5m2");

    private final int bytes;
    private final String torchName;

    KvDtype(int bytes, String torchName) {
        this.bytes = bytes;
        this.torchName = torchName;
    }

    /** Size of one element in bytes. */
    public int bytes() {
        return bytes;
    }

    /** The name torch gives this dtype (without the {@code torch.} prefix). */
    public String torchName() {
        return torchName;
    }

    /**
     * Parses the names vLLM, torch and LMCache use: {@code float16}, {@code half}, {@code fp16},
     * {@code bfloat16}, {@code bf16}, {@code float32}, {@code float}, {@code fp32},
     * {@code float8_e4m3fn}, {@code fp8_e4m3}, {@code fp8}, {@code float8_e5m2}, {@code fp8_e5m2};
     * an optional {@code torch.} prefix is ignored.
     */
    public static KvDtype parse(String name) {
        String n = name == null ? "" : name.trim().toLowerCase(Locale.ROOT);
        if (n.startsWith("torch.")) {
            n = n.substring("torch.".length());
        }
        return switch (n) {
            case "float16", "half", "fp16" -> FLOAT16;
            case "bfloat16", "bf16" -> BFLOAT16;
            case "float32", "float", "fp32" -> FLOAT32;
            case "float8_e4m3fn", "float8_e4m3", "fp8_e4m3", "fp8", "e4m3" -> FP8_E4M3;
            case "float8_e5m2", "fp8_e5m2", "e5m2" -> FP8_E5M2;
            default -> throw new IllegalArgumentException("unsupported KV dtype '" + name
                    + "' (supported: float16, bfloat16, float32, float8_e4m3fn, float8_e5m2)");
        };
    }
}
