package org.lmcache4j.cli;

import org.lmcache4j.EngineConfig;
import org.lmcache4j.KvLayout;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;

/**
 * The pool sizes {@code simulate} tries: {@code --capacity-tokens} (tokens, rounded down to whole
 * chunks) and {@code --capacity-gb} (GB of KV, counted in pages as the engine's pool counts them),
 * else the configuration's CPU pool. A size below one chunk is refused: it could never cache anything.
 */
final class SimulationCapacities {
    private SimulationCapacities() {
    }

    static List<SimulateCommand.Capacity> parse(Args args, EngineConfig config, KvLayout layout) {
        int chunkSize = config.chunkSize();
        List<SimulateCommand.Capacity> all = new ArrayList<>();
        args.string("capacity-tokens").ifPresent(list -> {
            for (String s : items("capacity-tokens", list)) {
                long tokens = whole("capacity-tokens", s);
                if (tokens < chunkSize) {
                    throw new IllegalArgumentException("--capacity-tokens " + s + " is below one chunk (chunk_size "
                            + chunkSize + " tokens): a pool that small could never cache anything");
                }
                all.add(new SimulateCommand.Capacity(chunks("--capacity-tokens", s, tokens / chunkSize), tokens));
            }
        });
        args.string("capacity-gb").ifPresent(list -> {
            for (String s : items("capacity-gb", list)) {
                all.add(pool("--capacity-gb " + s, config.toBuilder().maxLocalCpuSizeGb(gb(s)).localCpu(true),
                        layout, chunkSize));
            }
        });
        if (all.isEmpty()) {
            all.add(pool("the configuration's max_local_cpu_size", config.toBuilder(), layout, chunkSize));
        }
        return all.stream().distinct().sorted(Comparator.comparingInt(SimulateCommand.Capacity::chunks)
                .thenComparingLong(SimulateCommand.Capacity::tokens)).toList();
    }

    /** As many chunks as the engine's pool of that configuration holds (pages are 4 KiB-aligned chunks). */
    private static SimulateCommand.Capacity pool(String what, EngineConfig.Builder b, KvLayout layout, int chunkSize) {
        try {
            long chunks = b.build().poolChunks(layout);
            return new SimulateCommand.Capacity(chunks(what, "", chunks), chunks * chunkSize);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(what + ": " + e.getMessage(), e);
        }
    }

    private static List<String> items(String option, String list) {
        List<String> items = List.of(list.split(",", -1)).stream().map(String::trim).toList();
        if (items.isEmpty() || items.contains("")) {
            throw new IllegalArgumentException("--" + option + " takes a list separated by commas, got '" + list + "'");
        }
        return items;
    }

    private static long whole(String option, String s) {
        try {
            return Long.parseLong(s);
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("--" + option + " must be whole numbers of tokens, got '" + s + "'");
        }
    }

    private static double gb(String s) {
        try {
            double gb = Double.parseDouble(s);
            if (gb > 0 && Double.isFinite(gb)) {
                return gb;
            }
        } catch (NumberFormatException e) {
            // the message below
        }
        throw new IllegalArgumentException("--capacity-gb must be positive numbers of GB, got '" + s + "'");
    }

    private static int chunks(String what, String value, long chunks) {
        if (chunks > Integer.MAX_VALUE) {
            throw new IllegalArgumentException(String.format(Locale.ROOT, "%s %s is %,d chunks, more than the"
                    + " simulator counts", what, value, chunks).replace("  ", " "));
        }
        return (int) chunks;
    }
}
