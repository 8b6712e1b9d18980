package org.lmcache4j.bench.sim;

import java.io.BufferedReader;
import java.io.BufferedWriter;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * A workload as the simulator sees it: requests in order, each the chunk keys of its prompt
 * (chunk 0 first) with their token counts. Keys are small ints ({@link #distinctKeys} of them).
 *
 * <p>Read from the text trace that {@code lmcache4j replay --dump-trace} writes (one line per
 * access: {@code request chunk key tokens kind}): a request's prompt is every chunk any of its
 * lines names, whatever the kind, so the lookup, retrieve and store lines of one request fold
 * into one prompt. {@code recordedHitTokens} sums the {@code retrieve} lines: what the engine
 * itself served, to compare with the simulated LRU at the engine's capacity.
 */
record Trace(List<Request> requests, int distinctKeys, long recordedHitTokens) {
    /** One prompt: {@code keys[i]} is chunk i's key, holding {@code tokens[i]} tokens. */
    record Request(String id, int[] keys, int[] tokens) {
        long totalTokens() {
            long t = 0;
            for (int n : tokens) {
                t += n;
            }
            return t;
        }
    }

    static final String HEADER = "# lmcache4j access trace v1\n# request chunk key tokens kind\n";

    static Trace read(Path file) throws IOException {
        Map<String, Integer> ids = new HashMap<>();
        Map<String, TreeMap<Integer, int[]>> byRequest = new LinkedHashMap<>(); // chunk -> {key, tokens}
        long recorded = 0;
        try (BufferedReader in = Files.newBufferedReader(file, StandardCharsets.US_ASCII)) {
            int lineNo = 0;
            for (String line = in.readLine(); line != null; line = in.readLine()) {
                lineNo++;
                if (line.isBlank() || line.startsWith("#")) {
                    continue;
                }
                String[] f = line.trim().split(" +");
                if (f.length != 5) {
                    throw new IllegalArgumentException(file + ":" + lineNo + ": expected 5 fields, found " + f.length);
                }
                int key = ids.computeIfAbsent(f[2], k -> ids.size());
                int tokens = Integer.parseInt(f[3]);
                byRequest.computeIfAbsent(f[0], r -> new TreeMap<>()).put(Integer.parseInt(f[1]), new int[]{key, tokens});
                if (f[4].equals("retrieve")) {
                    recorded += tokens;
                }
            }
        }
        List<Request> requests = new ArrayList<>(byRequest.size());
        byRequest.forEach((id, chunks) -> {
            int[] keys = new int[chunks.size()];
            int[] tokens = new int[chunks.size()];
            int i = 0;
            for (int[] kt : chunks.values()) {
                keys[i] = kt[0];
                tokens[i++] = kt[1];
            }
            requests.add(new Request(id, keys, tokens));
        });
        return new Trace(requests, ids.size(), recorded);
    }

    /** Writes the trace in the replay's format, one {@code access} line per chunk, keys as 32 hex digits. */
    void write(Path file) throws IOException {
        try (BufferedWriter out = Files.newBufferedWriter(file, StandardCharsets.US_ASCII)) {
            out.write(HEADER);
            for (Request r : requests) {
                for (int c = 0; c < r.keys.length; c++) {
                    out.write(r.id + ' ' + c + ' ' + String.format("%032x", r.keys[c]) + ' ' + r.tokens[c] + " access\n");
                }
            }
        }
    }

    long totalChunks() {
        return requests.stream().mapToLong(r -> r.keys.length).sum();
    }
}
