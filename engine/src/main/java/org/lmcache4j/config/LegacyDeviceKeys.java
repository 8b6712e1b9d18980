package org.lmcache4j.config;

import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.function.Consumer;
import java.util.function.Function;

/**
 * LMCache 0.1's storage keys, which LMCache's own example files still use, read as the keys of
 * today. In LMCache 0.1 {@code local_device} chose the one local tier: {@code cpu} or {@code cuda}
 * (memory) or {@code file://DIR/} (a directory on disk), and {@code max_local_cache_size} (GB)
 * capped that tier, defaulting to 20 in a file and 5 in the environment. So:
 * <ul>
 *   <li>{@code local_device: file://DIR/} is the disk tier at DIR ({@code local_disk}), capped at
 *       {@code max_local_cache_size} ({@code max_local_disk_size}); the CPU pool stays as
 *       {@code max_local_cpu_size} says, since every chunk passes through it;</li>
 *   <li>{@code local_device: cpu} is the CPU pool, of {@code max_local_cache_size} when given;
 *       {@code cuda} (LMCache 0.1's GPU-memory tier) becomes the same CPU pool, with a warning;</li>
 *   <li>today's keys win where both are set, except two directories for the disk, which is an error.</li>
 * </ul>
 * Before this, {@code local_device: file://…} was ignored and the disk tier silently dropped.
 */
final class LegacyDeviceKeys {

    static final String DEVICE = "local_device";
    static final String SIZE = "max_local_cache_size";

    private LegacyDeviceKeys() {
    }

    /**
     * {@code values} with {@code local_device} and {@code max_local_cache_size} replaced by the keys
     * of today, unless those are set; {@code sources} gets where each key it adds came from.
     *
     * @param defaultSizeGb LMCache 0.1's default for {@code max_local_cache_size} in this source
     */
    static Map<String, Object> translate(Map<String, Object> values, Function<String, String> sourceOf,
                                         double defaultSizeGb, Map<String, String> sources, Consumer<String> warn) {
        if (!values.containsKey(DEVICE) && !values.containsKey(SIZE)) {
            return values;
        }
        Map<String, Object> out = new LinkedHashMap<>(values);
        Object device = out.remove(DEVICE);
        Object size = out.remove(SIZE);
        String deviceText = ConfigValues.toOptionalText(device);
        String from = sourceOf.apply(DEVICE) + " as " + DEVICE;
        if (deviceText == null) {
            if (size != null) {
                warn.accept("configuration key " + SIZE + " (from " + sourceOf.apply(SIZE) + ") sized LMCache 0.1's"
                        + " local_device, which is not set: ignored (the sizes of today are max_local_cpu_size and"
                        + " max_local_disk_size)");
            }
            return out;
        }
        Object sizeGb = size != null ? size : defaultSizeGb;
        String sizeFrom = size != null ? sourceOf.apply(SIZE) + " as " + SIZE : "LMCache 0.1's default " + SIZE;
        String lower = deviceText.toLowerCase(Locale.ROOT);
        if (lower.startsWith("file://")) {
            String dir;
            try {
                dir = ConfigValues.toDiskPath(deviceText);
            } catch (IllegalArgumentException e) {
                throw ConfigValues.fromSource(DEVICE + ": '" + device + "' " + e.getMessage(), sourceOf.apply(DEVICE), e);
            }
            if (out.get("local_disk") != null && ConfigValues.toOptionalText(out.get("local_disk")) != null) {
                throw new IllegalArgumentException("local_device: '" + device + "' and local_disk: '"
                        + out.get("local_disk") + "' both name the disk tier's directory (from " + sourceOf.apply(DEVICE)
                        + "): keep local_disk, LMCache's key of today, and remove local_device");
            }
            put(out, sources, "local_disk", dir, from);
            put(out, sources, "max_local_disk_size", sizeGb, sizeFrom);
        } else if (lower.equals("cpu") || lower.equals("cuda")) {
            if (lower.equals("cuda")) {
                warn.accept("configuration key " + DEVICE + " (from " + sourceOf.apply(DEVICE) + ") is 'cuda', LMCache"
                        + " 0.1's tier in GPU memory: LMCache4j keeps chunks in its CPU pool instead");
            }
            put(out, sources, "local_cpu", true, from);
            if (size != null) {
                put(out, sources, "max_local_cpu_size", size, sizeFrom);
            }
        } else {
            throw new IllegalArgumentException(DEVICE + ": '" + device + "' is not cpu, cuda or a file:// URL of a"
                    + " directory (from " + sourceOf.apply(DEVICE) + ")");
        }
        return out;
    }

    /** Sets {@code key} unless the configuration sets it itself: today's keys win. */
    private static void put(Map<String, Object> out, Map<String, String> sources, String key, Object value, String from) {
        if (!out.containsKey(key)) {
            out.put(key, value);
            sources.put(key, from);
        }
    }
}
