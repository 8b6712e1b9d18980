package org.lmcache4j.bench;

import org.openjdk.jmh.results.RunResult;
import org.openjdk.jmh.runner.Runner;
import org.openjdk.jmh.runner.RunnerException;
import org.openjdk.jmh.runner.options.CommandLineOptions;
import org.openjdk.jmh.runner.options.Options;
import org.openjdk.jmh.runner.options.OptionsBuilder;
import org.openjdk.jmh.runner.options.TimeValue;

import java.util.ArrayList;
import java.util.List;

/**
 * The quick pass: every benchmark briefly, then the figures that matter as ratios of results
 * measured side by side ({@link RatioTable}).
 *
 * <pre>
 * bench/run-quick.sh [--rounds N] [--tiers] [JMH options]
 * java --enable-native-access=ALL-UNNAMED -cp bench/target/benchmarks.jar org.lmcache4j.bench.Ratios [--rounds N] [JMH options]
 * </pre>
 *
 * <p>Why rounds: the machines are shared, and a neighbour's build can halve the memory bandwidth
 * for a minute. The benchmarks a ratio compares therefore run back to back, and the whole set is
 * repeated {@code --rounds} times (default 3); each ratio is taken within a round and the median
 * over rounds is reported. Key hashing, the pool and the index, which are not ratios of bandwidths,
 * run once; with {@code --tiers}, so do the disk and Redis tiers against FileChannel and lettuce.
 *
 * <p>Defaults {@code -f 1 -wi 2 -w 1s -i 3 -r 1s -foe true} take about three minutes; JMH options
 * given override them ({@code -p numBlocks=4096}, {@code -i 5}, {@code -rf json -rff quick.json}),
 * and a benchmark regex replaces the whole set with the benchmarks it matches, for every round.
 */
public final class Ratios {
    static final String NATIVE_ACCESS = "--enable-native-access=ALL-UNNAMED";
    /** The engine logs every store at INFO, as LMCache does; hundreds a second would drown the output. */
    static final String QUIET_LOGS = "-Dorg.slf4j.simpleLogger.defaultLogLevel=warn";
    /** Everything measured is off-heap; a small heap keeps the forks light on a shared machine. */
    static final String SMALL_HEAP = "-Xmx1g";

    /** Each run together, so that its ratios compare figures taken minutes apart at most. */
    private static final List<String> EACH_ROUND = List.of(
            "TransferBenchmark\\.(bareGatherLoop|contiguousColdCopy|engineStore|hostTransferGather)$",
            "TransferBenchmark\\.(bareScatterLoop|engineRetrieve|hostTransferScatter)$");
    private static final List<String> ONCE = List.of("KeyHashBenchmark", "PoolBenchmark", "bench\\.IndexBenchmark");
    /** The tiers against plain FileChannel and raw lettuce: with {@code --tiers} (a few minutes more). */
    private static final List<String> TIERS = List.of("DiskBenchmark", "RemoteBenchmark");

    private Ratios() {
    }

    public static void main(String[] args) throws Exception {
        List<String> jmhArgs = new ArrayList<>(List.of(args));
        int rounds = 3;
        boolean tiers = jmhArgs.remove("--tiers");
        int at = jmhArgs.indexOf("--rounds");
        if (at >= 0) {
            rounds = Integer.parseInt(jmhArgs.get(at + 1));
            jmhArgs.subList(at, at + 2).clear();
        }
        CommandLineOptions given = new CommandLineOptions(jmhArgs.toArray(String[]::new));
        boolean ownSet = given.getIncludes().isEmpty();
        List<RunResult> results = new ArrayList<>();
        for (int r = 0; r < rounds; r++) {
            for (String include : ownSet ? EACH_ROUND : List.of("")) {
                results.addAll(run(given, include));
            }
        }
        for (String include : ownSet ? ONCE : List.<String>of()) {
            results.addAll(run(given, include));
        }
        for (String include : ownSet && tiers ? TIERS : List.<String>of()) {
            results.addAll(run(given, include));
        }
        System.out.print(RatioTable.of(results));
    }

    /** Runs the benchmarks {@code include} matches (with an empty one, those given) with the quick defaults. */
    private static List<RunResult> run(CommandLineOptions given, String include) throws RunnerException {
        OptionsBuilder quick = new OptionsBuilder();
        quick.parent(given);
        if (!include.isEmpty()) {
            quick.include(include);
        }
        if (!given.getForkCount().hasValue()) {
            quick.forks(1);
        }
        if (!given.getWarmupIterations().hasValue()) {
            quick.warmupIterations(2);
        }
        if (!given.getWarmupTime().hasValue()) {
            quick.warmupTime(TimeValue.seconds(1));
        }
        if (!given.getMeasurementIterations().hasValue()) {
            quick.measurementIterations(3);
        }
        if (!given.getMeasurementTime().hasValue()) {
            quick.measurementTime(TimeValue.seconds(1));
        }
        if (!given.shouldFailOnError().hasValue()) {
            quick.shouldFailOnError(true);
        }
        Options options = quick.build();
        return new ArrayList<>(new Runner(options).run());
    }
}
