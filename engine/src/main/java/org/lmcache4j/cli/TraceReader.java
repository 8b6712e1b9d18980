package org.lmcache4j.cli;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * Reads a trace in either format it comes in; a file that starts with the header of
 * {@code replay --dump-trace} ({@link TraceFile}) is one of those, anything else is read as
 * Mooncake's JSON lines:
 *
 * <pre>
 * {"timestamp": 0, "input_length": 6758, "output_length": 500, "hash_ids": [0, 1, 2, …, 13]}
 * </pre>
 *
 * one request a line: {@code input_length} prompt tokens, one {@code hash_id} per block of
 * {@code blockTokens} (512 in Mooncake's traces), the last block partial. A line with fewer ids
 * than blocks leaves the rest of its prompt unshared: it becomes one block of the request's own.
 * Every line is checked, and the first bad one is refused naming its number; that includes an id
 * that follows another id than where it was first seen, since an id stands for its whole prefix
 * (the simulator names chunks by block, the engine by content: they agree only on such traces).
 */
final class TraceReader {
    private final String source;
    private final List<PromptTrace.Prompt> prompts = new ArrayList<>();
    private final Map<Object, Integer> blockIds = new HashMap<>();
    /** Per Mooncake id: the id before it ({@link #FIRST} for none) and the line it was first seen on. */
    private final Map<Long, long[]> before = new HashMap<>();
    private static final long FIRST = Long.MIN_VALUE;
    /** The kinds a {@code --dump-trace} line can have ({@link org.lmcache4j.AccessTrace.Kind}). */
    private static final List<String> KINDS = java.util.Arrays.stream(org.lmcache4j.AccessTrace.Kind.values())
            .map(org.lmcache4j.AccessTrace.Kind::label).toList();
    private long[] seeds = new long[1024];

    private TraceReader(Path file) {
        this.source = file.toString();
    }

    /** The trace in {@code file}; {@code blockTokens} is the tokens of one Mooncake block. */
    static PromptTrace read(Path file, int blockTokens) {
        TraceReader reader = new TraceReader(file);
        try (TraceLines in = TraceLines.open(file)) {
            String first = in.next();
            if (first != null && first.startsWith("# lmcache4j access trace")) {
                reader.readAccesses(in);
            } else {
                reader.readMooncake(first, in, blockTokens);
            }
        } catch (IOException e) {
            throw new IllegalArgumentException("cannot read the trace " + file + ": " + e.getMessage(), e);
        } catch (IllegalArgumentException e) {
            throw e.getMessage().startsWith("line ")
                    ? new IllegalArgumentException(file + " " + e.getMessage(), e) : e;
        }
        if (reader.prompts.isEmpty()) {
            throw new IllegalArgumentException("the trace " + file + " has no requests");
        }
        return new PromptTrace(reader.source, List.copyOf(reader.prompts),
                java.util.Arrays.copyOf(reader.seeds, reader.blockIds.size()));
    }

    private void readMooncake(String first, TraceLines in, int blockTokens) throws IOException {
        for (String line = first; line != null; line = in.next()) {
            int lineNo = in.lineNo();
            if (line.isBlank()) {
                continue;
            }
            try {
                prompts.add(mooncake(line, blockTokens, lineNo));
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException(source + " line " + lineNo + ": " + e.getMessage(), e);
            }
        }
    }

    private PromptTrace.Prompt mooncake(String line, int blockTokens, int lineNo) {
        if (!(JsonLine.parse(line) instanceof Map<?, ?> request)) {
            throw new IllegalArgumentException("expected a JSON object, one request");
        }
        long timestamp = whole(request, "timestamp", 0, false);
        long input = whole(request, "input_length", 1, true);
        whole(request, "output_length", 0, false);
        if (!(request.get("hash_ids") instanceof List<?> ids)) {
            throw new IllegalArgumentException(request.containsKey("hash_ids")
                    ? "hash_ids must be a list of block ids" : "hash_ids is missing");
        }
        long allowed = (input + blockTokens - 1) / blockTokens;
        if (ids.size() > allowed) {
            throw new IllegalArgumentException(ids.size() + " hash_ids, but input_length " + input + " makes "
                    + allowed + " blocks of " + blockTokens + " tokens (--trace-block-tokens)");
        }
        if (input > Integer.MAX_VALUE) {
            throw new IllegalArgumentException("input_length " + input + " is more tokens than a prompt can have");
        }
        boolean tail = ids.size() * (long) blockTokens < input;
        int[] blocks = new int[ids.size() + (tail ? 1 : 0)];
        int[] tokens = new int[blocks.length];
        for (int b = 0; b < ids.size(); b++) {
            if (!(ids.get(b) instanceof Long id)) {
                throw new IllegalArgumentException("hash_ids[" + b + "] is " + ids.get(b) + ", not a whole number");
            }
            long prev = b == 0 ? FIRST : (Long) ids.get(b - 1);
            long[] seen = before.putIfAbsent(id, new long[]{prev, lineNo});
            if (seen != null && seen[0] != prev) {
                throw new IllegalArgumentException("hash_ids[" + b + "] " + id + " follows "
                        + (prev == FIRST ? "nothing" : "id " + prev) + " here, but "
                        + (seen[0] == FIRST ? "nothing" : "id " + seen[0]) + " on line " + seen[1]
                        + " (an id stands for its block and everything before it)");
            }
            blocks[b] = block(id, id);
            tokens[b] = (int) Math.min(blockTokens, input - (long) b * blockTokens);
        }
        if (tail) {
            blocks[ids.size()] = block("line " + lineNo, ~(long) lineNo); // no id: this request's own tokens
            tokens[ids.size()] = (int) (input - (long) ids.size() * blockTokens);
        }
        return new PromptTrace.Prompt(timestamp, blocks, tokens, (int) input);
    }

    /** A whole-number field at least {@code min}; {@code 0} when optional and absent. */
    private static long whole(Map<?, ?> request, String name, long min, boolean required) {
        Object v = request.get(name);
        if (v == null) {
            if (required) {
                throw new IllegalArgumentException(name + " is missing");
            }
            return 0;
        }
        if (!(v instanceof Long n)) {
            throw new IllegalArgumentException(name + " must be a whole number, got " + v);
        }
        if (n < min) {
            throw new IllegalArgumentException(name + " must be at least " + min + ", got " + n);
        }
        return n;
    }

    /** The project's own trace: a request's lines fold into one prompt, its chunks in order. */
    private void readAccesses(TraceLines in) throws IOException {
        Map<String, TreeMap<Integer, int[]>> byRequest = new LinkedHashMap<>();
        Map<String, Integer> firstLine = new HashMap<>();
        for (String line = in.next(); line != null; line = in.next()) {
            int lineNo = in.lineNo();
            if (line.isBlank() || line.startsWith("#")) {
                continue;
            }
            String[] f = line.trim().split(" +");
            try {
                if (f.length != 5) {
                    throw new IllegalArgumentException("expected 5 fields (request chunk key tokens kind), found "
                            + f.length);
                }
                int chunk = number(f[1], "chunk", 0);
                int tokens = number(f[3], "tokens", 1);
                if (!f[2].matches("[0-9a-fA-F]{1,32}")) {
                    throw new IllegalArgumentException("key '" + f[2] + "' is not a hex number");
                }
                if (!KINDS.contains(f[4])) {
                    throw new IllegalArgumentException("kind must be one of " + String.join(", ", KINDS) + ", got '"
                            + f[4] + "'");
                }
                long seed = Long.parseUnsignedLong(f[2].substring(Math.max(0, f[2].length() - 16)), 16);
                byRequest.computeIfAbsent(f[0], r -> new TreeMap<>()).put(chunk, new int[]{block(f[2], seed), tokens});
                firstLine.putIfAbsent(f[0], lineNo);
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException(source + " line " + lineNo + ": " + e.getMessage(), e);
            }
        }
        byRequest.forEach((id, chunks) -> {
            if (chunks.lastKey() != chunks.size() - 1) {
                throw new IllegalArgumentException(source + " line " + firstLine.get(id) + ": request " + id
                        + " names chunk " + chunks.lastKey() + " but not all the chunks before it");
            }
            int[] blocks = new int[chunks.size()];
            int[] tokens = new int[chunks.size()];
            int total = 0;
            for (int c = 0; c < blocks.length; c++) {
                blocks[c] = chunks.get(c)[0];
                tokens[c] = chunks.get(c)[1];
                if (total > Integer.MAX_VALUE - tokens[c]) {
                    throw new IllegalArgumentException(source + " line " + firstLine.get(id) + ": request " + id
                            + " holds more than " + Integer.MAX_VALUE + " tokens, more than a prompt can have");
                }
                total += tokens[c];
            }
            prompts.add(new PromptTrace.Prompt(0, blocks, tokens, total));
        });
    }

    private static int number(String s, String name, int min) {
        try {
            int n = Integer.parseInt(s);
            if (n >= min) {
                return n;
            }
        } catch (NumberFormatException e) {
            // the message below
        }
        throw new IllegalArgumentException(name + " must be a whole number of at least " + min + ", got '" + s + "'");
    }

    /** The small int of the block the file calls {@code name}. */
    private int block(Object name, long seed) {
        Integer id = blockIds.get(name);
        if (id == null) {
            id = blockIds.size();
            blockIds.put(name, id);
            if (id == seeds.length) {
                seeds = java.util.Arrays.copyOf(seeds, seeds.length * 2);
            }
            seeds[id] = seed;
        }
        return id;
    }
}
