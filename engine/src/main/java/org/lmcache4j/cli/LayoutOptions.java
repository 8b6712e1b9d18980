package org.lmcache4j.cli;

import org.lmcache4j.EngineConfig;
import org.lmcache4j.KvDtype;
import org.lmcache4j.KvFormat;
import org.lmcache4j.KvLayout;
import org.lmcache4j.config.ConfigLoader;

import java.nio.file.Path;
import java.util.Optional;

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
     * {@code --chunk-size}, {@code --disk-dir} and {@code --disk-gb} on top.
     */
    static EngineConfig config(Args args) {
        EngineConfig base = ConfigLoader.load(args.string("config").map(Path::of), System.getenv());
        EngineConfig.Builder b = base.toBuilder();
        Optional<Double> cpuGb = args.decimal("cpu-gb");
        cpuGb.ifPresent(gb -> b.maxLocalCpuSizeGb(gb).localCpu(true));
        args.string("chunk-size").ifPresent(s -> b.chunkSize(args.integer("chunk-size", 256, 1)));
        args.string("disk-dir").ifPresent(b::localDisk);
        args.decimal("disk-gb").ifPresent(b::maxLocalDiskSizeGb);
        args.string("remote-url").ifPresent(b::remoteUrl);
        EngineConfig config = b.build();
        if (config.localDisk().isPresent() && config.diskBytes() == 0) {
            throw new IllegalArgumentException("a disk tier at " + config.localDisk().get()
                    + " needs a size: give --disk-gb (or max_local_disk_size)");
        }
        return config;
    }
}
