package org.lmcache4j.cli;

/**
 * Runs a trace against a policy and counts the prefix hit rate as LMCache counts it: per request,
 * the tokens of the leading run of chunks the pool holds (the first missing chunk ends the hit,
 * and a hit is never more than the prompt), over all prompt tokens.
 */
final class Simulation {
    /** Told after each request; a null object when nobody watches. */
    interface Progress {
        Progress NONE = (done, total) -> { };

        void request(int done, int total);
    }

    private Simulation() {
    }

    /** Hit tokens of {@code policy} over {@code trace}. */
    static long hitTokens(ChunkedTrace trace, SimulatedPolicy policy, Progress progress) {
        long hits = 0;
        int n = trace.requests();
        for (int r = 0; r < n; r++) {
            hits += request(trace, r, policy);
            progress.request(r + 1, n);
        }
        return hits;
    }

    /** Request {@code r}'s hit tokens under {@code policy}, which then applies the request. */
    static long request(ChunkedTrace trace, int r, SimulatedPolicy policy) {
        int[] keys = trace.keys[r];
        boolean[] present = new boolean[keys.length];
        boolean leading = true;
        long hits = 0;
        for (int i = 0; i < keys.length; i++) {
            present[i] = policy.contains(keys[i]);
            leading &= present[i];
            if (leading) {
                hits += trace.tokens[r][i];
            }
        }
        policy.apply(keys, present);
        return hits;
    }

    /** Hit tokens of a pool that never evicts: every chunk seen before is there. */
    static long infiniteHitTokens(ChunkedTrace trace) {
        boolean[] seen = new boolean[trace.chunks()];
        long hits = 0;
        for (int r = 0; r < trace.requests(); r++) {
            int[] keys = trace.keys[r];
            boolean leading = true;
            for (int i = 0; i < keys.length; i++) {
                leading &= seen[keys[i]];
                if (leading) {
                    hits += trace.tokens[r][i];
                }
            }
            for (int key : keys) {
                seen[key] = true;
            }
        }
        return hits;
    }
}
