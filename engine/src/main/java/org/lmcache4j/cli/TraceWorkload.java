package org.lmcache4j.cli;

import java.util.Map;

/**
 * {@code replay --trace FILE}: the requests of a trace, their tokens made from the block ids, so
 * that prompts that share a block share its tokens (and, a block standing for everything before
 * it, their whole prefix up to it) and get identical chunks, as {@code simulate} assumes. A
 * block's token at offset {@code o} is a hash of the block's id in the file and {@code o}; a
 * partial last block is the start of the same tokens.
 */
final class TraceWorkload implements ReplayWorkload {
    private static final int VOCABULARY = 32000;
    private static final long GOLDEN = 0x9E3779B97F4A7C15L;

    private final PromptTrace trace;

    TraceWorkload(PromptTrace trace) {
        this.trace = trace;
    }

    @Override
    public int requests() {
        return trace.prompts().size();
    }

    @Override
    public String requestId(int i) {
        return "trace-" + i;
    }

    @Override
    public int[] prompt(int i) {
        PromptTrace.Prompt p = trace.prompts().get(i);
        int[] tokens = new int[p.tokens()];
        int pos = 0;
        for (int b = 0; b < p.blocks().length; b++) {
            long seed = trace.blockSeeds()[p.blocks()[b]] * GOLDEN;
            for (int o = 0; o < p.blockTokens()[b]; o++) {
                tokens[pos++] = (int) Long.remainderUnsigned(mix(seed + o), VOCABULARY);
            }
        }
        return tokens;
    }

    @Override
    public int longestPrompt() {
        return trace.longestPrompt();
    }

    @Override
    public long arrivalMs(int i) {
        return trace.prompts().get(i).timestampMs();
    }

    @Override
    public void describe(Map<String, Object> report) {
        report.put("trace", trace.source());
        report.put("prompt_tokens", trace.promptTokens());
    }

    /** SplitMix64's finalizer: every input bit moves every output bit. */
    private static long mix(long z) {
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        return z ^ (z >>> 31);
    }
}
