package org.lmcache4j.cli;

import org.lmcache4j.KeyScope;
import org.lmcache4j.KvDtype;
import org.lmcache4j.KvFormat;
import org.lmcache4j.KvLayout;
import org.lmcache4j.keys.ChunkHasher;
import org.lmcache4j.keys.ChunkKey;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.ForkJoinPool;
import java.util.function.IntUnaryOperator;

/**
 * Prints how {@code simulate}'s {@code adaptive} policy fares against LRU under many hashes of the
 * chunks (the LRU-2 shadow's history table is indexed by a chunk's hash, so collisions differ):
 * {@code simulate}'s own hash, eight salted variants of it, and the engine's chunk keys under two
 * model names; on the Mooncake trace at {@code simulate}'s capacities and on our chat and document
 * traces at 10 / 25 / 50 / 75% of their distinct chunks. Not a test (a minute or two); run by hand:
 *
 * <pre>
 * mvn -B -ntp -o -q -pl engine test-compile
 * java -cp engine/target/classes:engine/target/test-classes org.lmcache4j.cli.AdaptiveSpread \
 *     ../shared/traces/mooncake-conversation.jsonl DIR_OF_SMALL_TRACES
 * </pre>
 * (the small traces: chat-72, chat-384, docs-32, docs-256a, docs-256b, chat, docs, docs-long,
 * made by the commands in docs/benchmarks.md; a missing one is named and passed over.)
 * {@code -Dsamples=N} runs the first N hashes only.
 */
final class AdaptiveSpread {
    private static final int CHUNK = 256;
    private static final KvLayout LAYOUT = new KvLayout(1, 1, 8, KvDtype.BFLOAT16, 16, 4096, KvFormat.FLASH_ATTN);
    private static final long[] MOONCAKE = {500_000, 1_000_000, 2_500_000, 5_000_000, 10_000_000, 20_000_000};
    /** Our traces and their capacities in tokens (10 / 25 / 50 / 75% of their distinct chunks). */
    private static final List<Object[]> SMALL = List.of(
            new Object[] {"chat-72.trace", new long[] {5888, 14848, 29696, 44288}},
            new Object[] {"chat-384.trace", new long[] {30720, 77056, 154112, 230912}},
            new Object[] {"docs-32.trace", new long[] {7424, 18432, 36864, 55552}},
            new Object[] {"docs-256a.trace", new long[] {32768, 81920, 163840, 246016}},
            new Object[] {"docs-256b.trace", new long[] {32768, 81920, 163840, 246016}},
            new Object[] {"chat.trace", new long[] {12800, 32256, 64512, 96512}},
            new Object[] {"docs.trace", new long[] {18944, 47360, 94976, 142336}},
            new Object[] {"docs-long.trace", new long[] {21248, 52992, 106240, 159232}});

    /** One sample: a name and the 32-bit hash of each of a trace's chunks. */
    private record Sample(String name, IntUnaryOperator hash) {
    }

    public static void main(String[] args) throws Exception {
        List<String> worst = new ArrayList<>();
        run(Path.of(args[0]), MOONCAKE, true, worst);
        if (args.length > 1) {
            for (Object[] t : SMALL) {
                Path p = Path.of(args[1], (String) t[0]);
                if (Files.exists(p)) {
                    run(p, (long[]) t[1], false, worst);
                } else {
                    System.out.println("(no " + p + ")");
                }
            }
        }
        System.out.println();
        worst.forEach(System.out::println);
    }

    private static void run(Path file, long[] capacities, boolean goals, List<String> summary) throws Exception {
        PromptTrace prompts = TraceReader.read(file, 512);
        ChunkedTrace trace = ChunkedTrace.of(prompts, CHUNK, true);
        long promptTokens = 0;
        for (int[] t : trace.tokens) {
            for (int x : t) {
                promptTokens += x;
            }
        }
        List<Sample> samples = samples(trace, prompts);
        double[] lru = new double[capacities.length];
        double[][] adaptive = new double[samples.size()][capacities.length];
        long total = promptTokens;
        try (ForkJoinPool pool = new ForkJoinPool(2)) {
            pool.submit(() -> java.util.stream.IntStream.range(0, (samples.size() + 1) * capacities.length).parallel()
                    .forEach(job -> {
                        int s = job / capacities.length - 1;
                        int c = job % capacities.length;
                        int chunks = (int) (capacities[c] / CHUNK);
                        SimulatedPolicy p = s < 0 ? new SimulatedLru(chunks, trace)
                                : new SimulatedAdaptive(chunks, trace.chunks(), samples.get(s).hash());
                        double rate = 100.0 * Simulation.hitTokens(trace, p, Simulation.Progress.NONE) / total;
                        if (s < 0) {
                            lru[c] = rate;
                        } else {
                            adaptive[s][c] = rate;
                        }
                    })).get();
        }
        System.out.printf(Locale.ROOT, "%n%s (%% of prompt tokens; adaptive: x LRU)%n%-20s", file.getFileName(), "capacity");
        for (long c : capacities) {
            System.out.printf(Locale.ROOT, " %16s", c);
        }
        System.out.printf(Locale.ROOT, "%n%-20s", "lru");
        for (double r : lru) {
            System.out.printf(Locale.ROOT, " %16.2f", r);
        }
        for (int s = 0; s < samples.size(); s++) {
            System.out.printf(Locale.ROOT, "%n%-20s", samples.get(s).name());
            for (int c = 0; c < capacities.length; c++) {
                System.out.printf(Locale.ROOT, " %8.2f %6.2fx", adaptive[s][c], adaptive[s][c] / lru[c]);
            }
        }
        System.out.println();
        double worstLoss = 0;
        double[] minRatio = new double[capacities.length];
        double[] maxRatio = new double[capacities.length];
        java.util.Arrays.fill(minRatio, Double.MAX_VALUE);
        for (int c = 0; c < capacities.length; c++) {
            for (double[] a : adaptive) {
                worstLoss = Math.max(worstLoss, lru[c] - a[c]);
                minRatio[c] = Math.min(minRatio[c], a[c] / lru[c]);
                maxRatio[c] = Math.max(maxRatio[c], a[c] / lru[c]);
            }
        }
        StringBuilder line = new StringBuilder(String.format(Locale.ROOT, "%-16s worst loss %.2f points; x LRU min-max:",
                file.getFileName(), worstLoss));
        for (int c = 0; c < capacities.length; c++) {
            line.append(String.format(Locale.ROOT, " %.2f-%.2f", minRatio[c], maxRatio[c]));
        }
        if (goals) {
            int met1 = 0;
            int met25 = 0;
            for (double[] a : adaptive) {
                met1 += a[1] >= 1.5 * lru[1] ? 1 : 0;
                met25 += a[2] >= 1.25 * lru[2] ? 1 : 0;
            }
            line.append(String.format(Locale.ROOT, "; goals met: 1M %d/%d, 2.5M %d/%d", met1, samples.size(), met25,
                    samples.size()));
        }
        summary.add(line.toString());
    }

    private static List<Sample> samples(ChunkedTrace trace, PromptTrace prompts) {
        List<Sample> samples = new ArrayList<>();
        samples.add(new Sample("simulate", SimulatedAdaptive::mix));
        for (int s = 1; s <= 8; s++) {
            int salt = s * 0x5bd1e995;
            samples.add(new Sample("salt " + s, k -> SimulatedAdaptive.mix(k ^ salt)));
        }
        TraceWorkload tokens = new TraceWorkload(prompts);
        for (String model : List.of("policy-test", "Mistral-7B")) {
            int[] hash = engineHashes(trace, tokens, model);
            samples.add(new Sample("engine " + model, k -> hash[k]));
        }
        return samples.subList(0, Math.min(samples.size(), Integer.getInteger("samples", samples.size())));
    }

    /** Per chunk, the hash the engine's policy takes from that chunk's key (its low 32 bits). */
    private static int[] engineHashes(ChunkedTrace trace, TraceWorkload tokens, String model) {
        ChunkHasher hasher = new ChunkHasher(model, 1, 0, CHUNK, LAYOUT);
        int[] hash = new int[trace.chunks()];
        for (int r = 0; r < trace.requests(); r++) {
            ChunkKey[] k = hasher.keys(KeyScope.NONE, tokens.prompt(r));
            for (int c = 0; c < k.length; c++) {
                hash[trace.keys[r][c]] = (int) k[c].lo();
            }
        }
        return hash;
    }
}
