package org.lmcache4j.cli;

import org.lmcache4j.EngineConfig;
import org.lmcache4j.KvDtype;
import org.lmcache4j.KvFormat;
import org.lmcache4j.KvLayout;
import org.lmcache4j.config.ConfigLoader;

import java.nio.file.Path;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.StringJoiner;
import java.util.function.Consumer;

/** The options that name a model shape and a configuration, shared by {@code replay} and {@code info}. */
final class LayoutOptions {
    private LayoutOptions() {
    }

    /** The layout from {@code --layers --kv-heads --head-size --dtype --block-size --format}; Mistral-7B by default. */
    static KvLayout layout(Args args, int numBlocks) {
        return new KvLayout(args.integer("layers", 32, 1), args.integer("kv-heads", 8, 1),
                args.integer("head-size", 128, 1), KvDtype.parse(args.string("dtype").orElse("bfloat16")),
                args.integer("block-size", 16, 1), numBlocks,
                KvFormat.parse(args.string("format").orElse("flash_attn")));
    }

    /**
     * The configuration from {@code --config}, else the environment, with {@code --cpu-gb},
     * {@code --chunk-size}, {@code --disk-dir} and {@code --disk-gb} on top. A value that cannot be
     * used is refused naming its source, the option or where the configuration came from.
     */
    static EngineConfig config(Args args) {
        return sourced(args).config();
    }

    /**
     * As {@link #config(Args)}, and refuses a CPU pool that cannot hold one chunk of {@code layout}
     * (it could never cache anything), naming where the keys it depends on came from; the engine
     * would refuse it too, but knows no sources.
     */
    static EngineConfig config(Args args, KvLayout layout) {
        return checked(args, layout).config();
    }

    /** As {@link #config(Args, KvLayout)}, with where each key came from and what loading it warned about. */
    static ConfigLoader.Sourced checked(Args args, KvLayout layout) {
        ConfigLoader.Sourced sourced = sourced(args);
        EngineConfig config = sourced.config();
        try {
            config.poolChunks(layout);
        } catch (IllegalArgumentException e) {
            boolean noPool = !config.localCpu() && !config.hasLowerTier();
            throw new IllegalArgumentException(e.getMessage() + " " + where(sourced,
                    noPool ? List.of("local_cpu") : List.of("max_local_cpu_size", "chunk_size")), e);
        }
        return sourced;
    }

    private static ConfigLoader.Sourced sourced(Args args) {
        ConfigLoader.Sourced base = ConfigLoader.loadSourced(args.string("config").map(Path::of), System.getenv());
        Map<String, String> sources = new HashMap<>(base.sources());
        EngineConfig.Builder b = base.config().toBuilder();
        args.decimal("cpu-gb").ifPresent(gb -> {
            override("cpu-gb", x -> x.maxLocalCpuSizeGb(gb));
            b.maxLocalCpuSizeGb(gb).localCpu(true);
            sources.put("max_local_cpu_size", "--cpu-gb");
            sources.put("local_cpu", "--cpu-gb");
        });
        args.string("chunk-size").ifPresent(s -> {
            b.chunkSize(args.integer("chunk-size", 256, 1));
            sources.put("chunk_size", "--chunk-size");
        });
        args.string("disk-dir").ifPresent(dir -> {
            b.localDisk(dir);
            sources.put("local_disk", "--disk-dir");
        });
        args.decimal("disk-gb").ifPresent(gb -> {
            override("disk-gb", x -> x.maxLocalDiskSizeGb(gb));
            b.maxLocalDiskSizeGb(gb);
            sources.put("max_local_disk_size", "--disk-gb");
        });
        args.string("remote-url").ifPresent(url -> {
            override("remote-url", x -> x.remoteUrl(url));
            b.remoteUrl(url);
            sources.put("remote_url", "--remote-url");
        });
        EngineConfig config = b.build();
        if (config.localDisk().isPresent() && config.diskBytes() == 0) {
            throw new IllegalArgumentException("a disk tier at " + config.localDisk().get()
                    + " needs a size: give --disk-gb (or max_local_disk_size)");
        }
        return new ConfigLoader.Sourced(config, sources, base.warnings());
    }

    /** Refuses an option's value that the configuration would refuse, naming the option. */
    private static void override(String option, Consumer<EngineConfig.Builder> set) {
        EngineConfig.Builder alone = EngineConfig.builder();
        set.accept(alone);
        try {
            alone.build();
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(e.getMessage() + " (from --" + option + ")", e);
        }
    }

    /** {@code (from S)} when the keys share one source, else each key's: {@code (chunk_size from S; ...)}. */
    private static String where(ConfigLoader.Sourced sourced, List<String> keys) {
        Set<String> distinct = new LinkedHashSet<>();
        keys.forEach(k -> distinct.add(sourced.sources().get(k)));
        if (distinct.size() == 1 && !distinct.contains(null)) {
            return "(from " + distinct.iterator().next() + ")";
        }
        StringJoiner each = new StringJoiner("; ", "(", ")");
        for (String k : keys) {
            String source = sourced.sources().get(k);
            each.add(source == null ? k + " at its default" : k + " from " + source);
        }
        return each.toString();
    }
}
