package org.lmcache4j.bench.sim;

import java.io.BufferedWriter;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;

/**
 * The long-document QA workload as a trace for {@code lmcache4j simulate}: {@code docs} documents
 * of {@code docTokens} tokens each, every one asked {@code queries} different short questions;
 * the prompt is a shared system prompt, the document, then the question, and the (document,
 * question) pairs come in a seeded random order, so questions on different documents interleave.
 * Keys follow the engine's prefix chaining: a chunk that lies within the system prompt and the
 * document is shared by every question on that document (and the system prompt's chunks by all),
 * while the chunk where the question begins, and any after it, are the question's own.
 *
 * <pre>
 * java -cp bench/target/benchmarks.jar org.lmcache4j.bench.sim.DocumentWorkload FILE
 *      [--docs 8] [--doc-tokens 8000] [--queries 4] [--question-tokens 64] [--system-tokens 500]
 *      [--chunk-size 256] [--seed 1]
 * </pre>
 *
 * FILE is written in {@code replay --dump-trace}'s format, keys as 32 hex digits: kind {@code store} where
 * a chunk first appears, {@code hit} after (the kinds {@code simulate} reads; it ignores which).
 */
public record DocumentWorkload(int docs, int docTokens, int queries, int questionTokens, int systemTokens,
                               int chunkSize, long seed) {
    static final String HEADER = "# lmcache4j access trace v1\n# request chunk key tokens kind\n";

    /** One prompt: {@code keys[i]} is chunk i's key, holding {@code tokens[i]} tokens. */
    record Request(String id, int[] keys, int[] tokens) {
    }

    public static void main(String[] argv) throws IOException {
        if (argv.length == 0 || argv[0].startsWith("--") || argv.length % 2 == 0) {
            System.err.println("usage: DocumentWorkload FILE [--docs N] [--doc-tokens N] [--queries N]"
                    + " [--question-tokens N] [--system-tokens N] [--chunk-size N] [--seed N]");
            System.exit(2);
        }
        Map<String, Integer> o = new LinkedHashMap<>(Map.of("docs", 8, "doc-tokens", 8000, "queries", 4,
                "question-tokens", 64, "system-tokens", 500, "chunk-size", 256, "seed", 1));
        for (int i = 1; i < argv.length; i += 2) {
            String name = argv[i].replaceFirst("^--", "");
            if (!argv[i].startsWith("--") || !o.containsKey(name)) {
                throw new IllegalArgumentException("unknown option " + argv[i] + " (options: " + o.keySet() + ")");
            }
            o.put(name, Integer.parseInt(argv[i + 1]));
        }
        new DocumentWorkload(o.get("docs"), o.get("doc-tokens"), o.get("queries"), o.get("question-tokens"),
                o.get("system-tokens"), o.get("chunk-size"), o.get("seed")).write(Path.of(argv[0]));
    }

    List<Request> requests() {
        List<int[]> order = new ArrayList<>();
        for (int d = 0; d < docs; d++) {
            for (int q = 0; q < queries; q++) {
                order.add(new int[]{d, q});
            }
        }
        Collections.shuffle(order, new Random(seed));
        List<Request> requests = new ArrayList<>();
        int shared = systemTokens + docTokens;
        int promptTokens = shared + questionTokens;
        int chunks = (promptTokens + chunkSize - 1) / chunkSize;
        Map<String, Integer> ids = new HashMap<>();
        for (int[] dq : order) {
            int[] keys = new int[chunks];
            int[] tokens = new int[chunks];
            for (int c = 0; c < chunks; c++) {
                int end = Math.min(promptTokens, (c + 1) * chunkSize);
                tokens[c] = end - c * chunkSize;
                String prefix = end <= systemTokens ? "system"
                        : end <= shared ? "doc-" + dq[0] : "doc-" + dq[0] + "-q-" + dq[1];
                keys[c] = ids.computeIfAbsent(prefix + "/" + c, k -> ids.size());
            }
            requests.add(new Request("doc-" + dq[0] + "-q-" + dq[1], keys, tokens));
        }
        return requests;
    }

    /** Writes the workload in the replay's trace format, one line per chunk. */
    void write(Path file) throws IOException {
        java.util.Set<Integer> seen = new java.util.HashSet<>();
        try (BufferedWriter out = Files.newBufferedWriter(file, StandardCharsets.US_ASCII)) {
            out.write(HEADER);
            for (Request r : requests()) {
                for (int c = 0; c < r.keys.length; c++) {
                    String kind = seen.add(r.keys[c]) ? " store\n" : " hit\n";
                    out.write(r.id + ' ' + c + ' ' + String.format("%032x", r.keys[c]) + ' ' + r.tokens[c] + kind);
                }
            }
        }
    }
}
