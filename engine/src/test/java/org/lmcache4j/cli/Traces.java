package org.lmcache4j.cli;

import java.io.IOException;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;

/** Traces for the tests: a slice of the real Mooncake trace, and generated conversations in its format. */
final class Traces {
    private Traces() {
    }

    /** The first 120 requests of the Mooncake conversation trace (src/test/resources/traces). */
    static Path mooncakeSlice() {
        try {
            return Path.of(Traces.class.getResource("/traces/mooncake-first-120.jsonl").toURI());
        } catch (URISyntaxException e) {
            throw new IllegalStateException(e);
        }
    }

    /**
     * {@code conversations} chats of {@code rounds} rounds in Mooncake's format, in a seeded random
     * order: every prompt starts with one shared system block (id 0), then its conversation's
     * history (each round adds 1 to 3 blocks), the last block partial; ids stand for their prefix.
     */
    static Path conversations(Path dir, int conversations, int rounds, long seed) throws IOException {
        Random rnd = new Random(seed);
        List<List<Long>> history = new ArrayList<>();
        List<Integer> order = new ArrayList<>();
        for (int c = 0; c < conversations; c++) {
            history.add(new ArrayList<>(List.of(0L)));
            for (int r = 0; r < rounds; r++) {
                order.add(c);
            }
        }
        java.util.Collections.shuffle(order, rnd);
        long nextId = 1;
        StringBuilder lines = new StringBuilder();
        long time = 0;
        for (int c : order) {
            List<Long> ids = history.get(c);
            for (int added = 1 + rnd.nextInt(3); added > 0; added--) {
                ids.add(nextId++);
            }
            int input = (ids.size() - 1) * 512 + 1 + rnd.nextInt(511);
            lines.append("{\"timestamp\": ").append(time).append(", \"input_length\": ").append(input)
                    .append(", \"output_length\": 100, \"hash_ids\": ").append(ids).append("}\n");
            time += rnd.nextInt(3);
            // the answer and the next question replace the partial block: the conversation's next prompt
            // shares the full blocks, then goes its own way
            ids.removeLast();
            ids.add(nextId++);
        }
        Path file = dir.resolve("conversations.jsonl");
        Files.writeString(file, lines);
        return file;
    }
}
