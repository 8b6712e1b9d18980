package org.lmcache4j.cli;

import org.lmcache4j.EngineConfig;
import org.lmcache4j.KvLayout;
import org.lmcache4j.config.ConfigLoader;
import org.lmcache4j.keys.ChunkHasher;

import java.io.PrintStream;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * {@code lmcache4j info}: the effective configuration, how many tokens the pool holds for a layout,
 * and the warnings loading it raised. A configuration the engine would refuse is refused here too,
 * with the same message, because both read it through {@code ConfigLoader}.
 */
final class InfoCommand {
    static final String USAGE = """
            lmcache4j info [options]        print the effective configuration and the pool's capacity
              --config FILE, --cpu-gb GB, --chunk-size N, and the model shape options of replay
              --json               print one JSON object
            """;

    private final Args args;
    private final PrintStream out;

    InfoCommand(Args args, PrintStream out) {
        this.args = args;
        this.out = out;
    }

    int run() {
        KvLayout layout = LayoutOptions.layout(args, args.integer("blocks", 1, 1));
        boolean json = args.flag("json");
        ConfigLoader.Sourced sourced;
        try {
            sourced = LayoutOptions.checked(args, layout); // refused as replay and the engine refuse it
        } catch (IllegalArgumentException e) {
            if (json) { // a JSON reader gets an answer too; the message still goes to stderr with exit 2
                out.println(Json.write(Map.of("error", String.valueOf(e.getMessage()))));
            }
            throw e;
        }
        EngineConfig config = sourced.config();
        args.finish();

        Map<String, Object> info = new LinkedHashMap<>(ConfigLoader.describe(config));
        long chunkBytes = layout.chunkBytes(config.chunkSize());
        long pages = config.poolChunks(layout);
        info.put("layout", Map.of("num_layers", layout.numLayers(), "num_kv_heads", layout.numKvHeads(),
                "head_size", layout.headSize(), "dtype", layout.dtype().torchName(),
                "block_size", layout.blockSize(), "kv_format", layout.format().configName()));
        info.put("token_bytes", layout.tokenBytes());
        info.put("chunk_bytes", chunkBytes);
        info.put("pool_chunks", pages);
        info.put("pool_tokens", pages * config.chunkSize());
        info.put("key_algorithm", ChunkHasher.ALGORITHM);
        info.put("warnings", sourced.warnings());
        if (json) {
            out.println(Json.write(info));
        } else {
            info.forEach((k, v) -> {
                if (!k.equals("warnings")) {
                    out.printf("%-24s %s%n", k, v == null ? "(unset)" : v);
                }
            });
            // The settings that were accepted but do nothing here, where the operator looks.
            sourced.warnings().forEach(w -> out.println("warning: " + w));
        }
        return 0;
    }
}
