package org.lmcache4j.bench.sim;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Random;

/**
 * The long-document QA workload as a key sequence: {@code docs} documents of {@code docTokens}
 * tokens each, every one asked {@code queries} different short questions; the prompt is a shared
 * system prompt, the document, then the question, and the (document, question) pairs come in a
 * seeded random order, so questions on different documents interleave. Keys follow the engine's
 * prefix chaining: a chunk that lies within the system prompt and the document is shared by every
 * question on that document (and the system prompt's chunks by all), while the chunk where the
 * question begins, and any after it, are the question's own.
 */
record DocumentWorkload(int docs, int docTokens, int queries, int questionTokens, int systemTokens, int chunkSize,
                        long seed) {

    Trace trace() {
        List<int[]> order = new ArrayList<>();
        for (int d = 0; d < docs; d++) {
            for (int q = 0; q < queries; q++) {
                order.add(new int[]{d, q});
            }
        }
        Collections.shuffle(order, new Random(seed));
        List<Trace.Request> requests = new ArrayList<>();
        int shared = systemTokens + docTokens;
        int promptTokens = shared + questionTokens;
        int chunks = (promptTokens + chunkSize - 1) / chunkSize;
        KeyIds ids = new KeyIds();
        for (int[] dq : order) {
            int[] keys = new int[chunks];
            int[] tokens = new int[chunks];
            for (int c = 0; c < chunks; c++) {
                int end = Math.min(promptTokens, (c + 1) * chunkSize);
                tokens[c] = end - c * chunkSize;
                if (end <= systemTokens) {
                    keys[c] = ids.of("system", c);
                } else if (end <= shared) {
                    keys[c] = ids.of("doc-" + dq[0], c);
                } else {
                    keys[c] = ids.of("doc-" + dq[0] + "-q-" + dq[1], c);
                }
            }
            requests.add(new Trace.Request("doc-" + dq[0] + "-q-" + dq[1], keys, tokens));
        }
        return new Trace(requests, ids.size(), 0);
    }

    /** Distinct ints for distinct (prefix, chunk) pairs. */
    private static final class KeyIds {
        private final java.util.Map<String, Integer> ids = new java.util.HashMap<>();

        int of(String prefix, int chunk) {
            return ids.computeIfAbsent(prefix + "/" + chunk, k -> ids.size());
        }

        int size() {
            return ids.size();
        }
    }
}
