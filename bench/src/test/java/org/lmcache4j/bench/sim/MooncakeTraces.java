package org.lmcache4j.bench.sim;

import java.io.BufferedReader;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A small reader of the Mooncake JSONL trace for the policy experiments (the product reader is
 * {@code lmcache4j simulate}'s). Each hash id stands for a 512-token block and everything before
 * it; a block is {@code blockTokens / chunkTokens} chunks, so chunk {@code j} of block id {@code b}
 * gets key {@code b * perBlock + j}, and equal ids give equal chunk keys. The last block holds
 * what is left of {@code input_length}; a chunk with no tokens left is not part of the prompt.
 */
final class MooncakeTraces {
    private static final Pattern INPUT = Pattern.compile("\"input_length\"\\s*:\\s*(-?\\d+)");
    private static final Pattern IDS = Pattern.compile("\"hash_ids\"\\s*:\\s*\\[([^\\]]*)\\]");

    private MooncakeTraces() {
    }

    static Trace read(Path file, int blockTokens, int chunkTokens, int maxRequests) throws IOException {
        int perBlock = blockTokens / chunkTokens;
        List<Trace.Request> requests = new ArrayList<>();
        int maxKey = -1;
        try (BufferedReader in = Files.newBufferedReader(file, StandardCharsets.UTF_8)) {
            int lineNo = 0;
            for (String line = in.readLine(); line != null && requests.size() < maxRequests; line = in.readLine()) {
                lineNo++;
                if (line.isBlank()) {
                    continue;
                }
                Matcher len = INPUT.matcher(line);
                Matcher ids = IDS.matcher(line);
                if (!len.find() || !ids.find()) {
                    throw new IllegalArgumentException(file + ":" + lineNo + ": no input_length or hash_ids");
                }
                int input = Integer.parseInt(len.group(1));
                String[] f = ids.group(1).isBlank() ? new String[0] : ids.group(1).split(",");
                if (input < 0 || (long) (f.length - 1) * blockTokens >= Math.max(input, 1) && f.length > 0) {
                    throw new IllegalArgumentException(file + ":" + lineNo + ": " + f.length
                            + " hash ids do not fit input_length " + input);
                }
                List<int[]> chunks = new ArrayList<>();
                for (int b = 0; b < f.length; b++) {
                    int id = Integer.parseInt(f[b].trim());
                    for (int j = 0; j < perBlock; j++) {
                        int from = b * blockTokens + j * chunkTokens;
                        int n = Math.min(chunkTokens, input - from);
                        if (n <= 0) {
                            break;
                        }
                        chunks.add(new int[]{id * perBlock + j, n});
                        maxKey = Math.max(maxKey, id * perBlock + j);
                    }
                }
                int[] keys = new int[chunks.size()];
                int[] tokens = new int[chunks.size()];
                for (int i = 0; i < keys.length; i++) {
                    keys[i] = chunks.get(i)[0];
                    tokens[i] = chunks.get(i)[1];
                }
                requests.add(new Trace.Request("m" + (lineNo - 1), keys, tokens));
            }
        }
        return new Trace(requests, maxKey + 1, 0);
    }
}
