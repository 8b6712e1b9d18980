package org.lmcache4j.bench.sim;

/**
 * One policy at one capacity over a whole trace. {@code chunkHits}: chunks present at lookup,
 * wherever they sit in the prompt. {@code prefixHitTokens}: tokens of the leading run of present
 * chunks (prefix contiguity: a chunk after a miss is a miss), what the engine can actually serve.
 */
record SimulationResult(String policy, int capacity, long chunks, long chunkHits, long tokens, long prefixHitTokens) {

    double chunkHitRate() {
        return chunks == 0 ? 0 : (double) chunkHits / chunks;
    }

    double prefixHitRate() {
        return tokens == 0 ? 0 : (double) prefixHitTokens / tokens;
    }

    /** Replays {@code trace} against {@code policy}, which has {@code capacity} chunks. */
    static SimulationResult run(Trace trace, Policy policy, int capacity) {
        long chunks = 0;
        long chunkHits = 0;
        long tokens = 0;
        long prefixTokens = 0;
        for (Trace.Request r : trace.requests()) {
            int[] keys = r.keys();
            boolean[] present = new boolean[keys.length];
            boolean leading = true;
            for (int i = 0; i < keys.length; i++) {
                present[i] = policy.contains(keys[i]);
                leading &= present[i];
                if (present[i]) {
                    chunkHits++;
                }
                if (leading) {
                    prefixTokens += r.tokens()[i];
                }
            }
            chunks += keys.length;
            tokens += r.totalTokens();
            policy.apply(keys, present);
        }
        return new SimulationResult(policy.name(), capacity, chunks, chunkHits, tokens, prefixTokens);
    }
}
