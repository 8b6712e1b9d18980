package org.lmcache4j.cli;

import java.util.HashMap;
import java.util.Map;

/**
 * A {@link PromptTrace} cut into the engine's chunks, as the simulator sees it: for each prompt,
 * the keys of its chunks (small ints, {@code 0 .. chunks()-1}) and how many tokens each holds.
 *
 * <p>A chunk's key is the block that holds its last token and the offset where it ends in that
 * block: a block stands for everything before it, so that pair fixes every token up to the
 * chunk's end, as the engine's chained chunk key does. With 512-token blocks and 256-token chunks
 * a block makes two chunks, shared wherever the block is. A prompt's partial last block ends in a
 * partial chunk (a 300-token block: one full chunk, as in any prompt with that block, then a
 * 44-token chunk that only prompts ending at the same place share); with
 * {@code save_unfull_chunk: false} the engine never stores a partial chunk, and neither does
 * the simulator, though its tokens still count in the prompt.
 */
final class ChunkedTrace {
    final int chunkSize;
    /** {@code keys[p][c]}: prompt p's chunk c. */
    final int[][] keys;
    /** {@code tokens[p][c]}: how many tokens it holds. */
    final int[][] tokens;
    /** {@code promptTokens[p]}: prompt p's length (more than its chunks hold when a partial one is left out). */
    final int[] promptTokens;
    private final int distinct;

    private ChunkedTrace(int chunkSize, int[][] keys, int[][] tokens, int[] promptTokens, int distinct) {
        this.chunkSize = chunkSize;
        this.keys = keys;
        this.tokens = tokens;
        this.promptTokens = promptTokens;
        this.distinct = distinct;
    }

    static ChunkedTrace of(PromptTrace trace, int chunkSize, boolean saveUnfullChunk) {
        int n = trace.prompts().size();
        int[][] keys = new int[n][];
        int[][] tokens = new int[n][];
        int[] promptTokens = new int[n];
        Map<Long, Integer> ids = new HashMap<>();
        for (int p = 0; p < n; p++) {
            PromptTrace.Prompt prompt = trace.prompts().get(p);
            int length = prompt.tokens();
            int chunks = (int) (saveUnfullChunk ? (length + (long) chunkSize - 1) / chunkSize : length / chunkSize);
            keys[p] = new int[chunks];
            tokens[p] = new int[chunks];
            promptTokens[p] = length;
            int block = 0;
            long blockStart = 0;
            for (int c = 0; c < chunks; c++) {
                long end = Math.min(length, (long) (c + 1) * chunkSize);
                while (blockStart + prompt.blockTokens()[block] < end) {
                    blockStart += prompt.blockTokens()[block++];
                }
                long pair = ((long) prompt.blocks()[block] << 32) | (end - blockStart);
                Integer id = ids.get(pair);
                if (id == null) {
                    id = ids.size();
                    ids.put(pair, id);
                }
                keys[p][c] = id;
                tokens[p][c] = (int) (end - (long) c * chunkSize);
            }
        }
        return new ChunkedTrace(chunkSize, keys, tokens, promptTokens, ids.size());
    }

    int requests() {
        return keys.length;
    }

    /** Distinct chunks: the working set, what a pool of infinite capacity ends up holding. */
    int chunks() {
        return distinct;
    }

    long promptTokens() {
        long t = 0;
        for (int n : promptTokens) {
            t += n;
        }
        return t;
    }
}
