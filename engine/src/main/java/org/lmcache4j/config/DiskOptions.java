package org.lmcache4j.config;

import org.lmcache4j.EngineConfig;
import org.lmcache4j.record.PayloadCodec;

import java.util.Map;
import java.util.function.Function;

/**
 * The disk tier's settings beyond LMCache's two keys ({@code local_disk}, {@code max_local_disk_size}).
 * They live in {@code extra_config}, where LMCache keeps its own disk knob {@code use_odirect}, so
 * that the top-level key space stays LMCache's.
 *
 * @param oDirect        {@code use_odirect}: bypass the page cache where the file system allows (default true)
 * @param writeThrough   {@code disk_write_through}: write every stored chunk to disk at once (default false:
 *                       chunks are written when the pool needs their pages; true with {@code local_cpu: false},
 *                       where LMCache sends every chunk straight on to its lower tiers)
 * @param codec          {@code disk_codec}: {@code none} (default) or {@code lz4} (adaptive)
 * @param ioThreads      {@code disk_io_threads}: parallel reads and writes (default 4)
 * @param highWatermark  {@code disk_spill_high_watermark}: pool usage at which spilling starts (default 0.9)
 * @param lowWatermark   {@code disk_spill_low_watermark}: pool usage spilling brings it back to (default 0.8)
 */
public record DiskOptions(boolean oDirect, boolean writeThrough, PayloadCodec.Mode codec, int ioThreads,
                          double highWatermark, double lowWatermark) {

    public DiskOptions {
        if (ioThreads < 1 || ioThreads > 64) {
            throw new IllegalArgumentException("extra_config.disk_io_threads must be 1..64, got " + ioThreads);
        }
        if (!(lowWatermark > 0 && lowWatermark < highWatermark && highWatermark <= 1)) {
            throw new IllegalArgumentException("extra_config.disk_spill_low_watermark (" + lowWatermark
                    + ") and disk_spill_high_watermark (" + highWatermark + ") must satisfy 0 < low < high <= 1");
        }
    }

    /** The options in {@code config.extraConfig()}, defaults for those absent. */
    public static DiskOptions from(EngineConfig config) {
        Map<String, Object> extra = config.extraConfig();
        return new DiskOptions(
                get(extra, "use_odirect", ConfigValues::toBool, true),
                get(extra, "disk_write_through", ConfigValues::toBool, !config.localCpu()),
                get(extra, "disk_codec", v -> PayloadCodec.Mode.parse(ConfigValues.toText(v)), PayloadCodec.Mode.NONE),
                get(extra, "disk_io_threads", ConfigValues::toInt, 4),
                get(extra, "disk_spill_high_watermark", ConfigValues::toFraction, 0.9),
                get(extra, "disk_spill_low_watermark", ConfigValues::toFraction, 0.8));
    }

    private static <T> T get(Map<String, Object> extra, String key, Function<Object, T> parse, T dflt) {
        Object raw = extra.get(key);
        if (raw == null) {
            return dflt;
        }
        try {
            return parse.apply(raw);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("extra_config." + key + ": '" + raw + "' " + e.getMessage(), e);
        }
    }
}
