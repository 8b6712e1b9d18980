package org.lmcache4j.cli;

import java.util.Locale;

/**
 * How the command line prints bytes: sizes and amounts in binary units (KiB, MiB, GiB: powers of
 * 1024; LMCache's configuration calls 1024³ bytes a GB, so {@code max_local_cpu_size: 5} prints as
 * 5.00 GiB), and rates in GiB/s. JSON output keeps bytes, and rates in GB (10⁹ bytes) per second
 * under names ending in {@code _gbps}, as the Prometheus metrics give them.
 */
final class Units {
    private static final double GIB = 1L << 30;

    private Units() {
    }

    /** {@code 5.00 GiB}, {@code 512.00 MiB}, {@code 12.00 KiB}, {@code 100 bytes}. */
    static String size(double bytes) {
        String[] units = {"KiB", "MiB", "GiB", "TiB", "PiB"};
        if (bytes < 1024) {
            return String.format(Locale.ROOT, "%.0f bytes", bytes);
        }
        int u = 0;
        double v = bytes / 1024;
        while (v >= 1024 && u < units.length - 1) {
            v /= 1024;
            u++;
        }
        return String.format(Locale.ROOT, "%.2f %s", v, units[u]);
    }

    /** A rate given in GB (10⁹ bytes) per second, as {@code 1.19 GiB/s}. */
    static String rate(double gbps) {
        return String.format(Locale.ROOT, "%.2f GiB/s", gbps * 1e9 / GIB);
    }
}
