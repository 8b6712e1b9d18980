package org.lmcache4j.cli;

import java.util.List;

/**
 * A trace as {@code simulate} and {@code replay --trace} read it: prompts in arrival order, each a
 * run of blocks. A block stands for its tokens <em>and everything before them</em> (a Mooncake
 * {@code hash_id}, or a chunk key of the project's own trace), so two prompts that share a block
 * share their whole prefix up to its end. Blocks are small ints, {@code 0 .. blocks()-1}, in the
 * order the file first names them; {@link #blockSeeds} keeps what the file called each one, so
 * that the tokens made from a block do not depend on where a slice of the file starts.
 *
 * @param source     the file, for messages
 * @param prompts    the requests in order
 * @param blockSeeds for each block, a number derived from its name in the file
 */
record PromptTrace(String source, List<Prompt> prompts, long[] blockSeeds) {
    /**
     * One request.
     *
     * @param timestampMs  when it arrived, in milliseconds from the trace's start (0 when the file has no times)
     * @param blocks       its blocks, first to last
     * @param blockTokens  how many tokens of each block it uses (a prompt's last block may be partial)
     * @param tokens       the prompt's length: the sum of {@code blockTokens}
     */
    record Prompt(long timestampMs, int[] blocks, int[] blockTokens, int tokens) {
    }

    int blocks() {
        return blockSeeds.length;
    }

    long promptTokens() {
        long t = 0;
        for (Prompt p : prompts) {
            t += p.tokens;
        }
        return t;
    }

    int longestPrompt() {
        int longest = 0;
        for (Prompt p : prompts) {
            longest = Math.max(longest, p.tokens);
        }
        return longest;
    }

    /** The first {@code n} prompts (all of them when there are fewer). */
    PromptTrace first(int n) {
        return n >= prompts.size() ? this : new PromptTrace(source, prompts.subList(0, n), blockSeeds);
    }
}
