package org.lmcache4j.bench.model;

/**
 * One request of the TTFT replay, served twice on the same prompt: without the engine (a full
 * prefill) and with it; {@code exact} says whether both gave the same logits, bit for bit.
 */
record TtftSample(String workload, int round, int promptTokens, int loadedTokens, long withoutNanos,
                  long withNanos, long lookupNanos, long retrieveNanos, long storeNanos, boolean exact) {

    /** The {@code p}-quantile (nearest rank) of {@code values}, which it sorts. */
    static double quantile(long[] values, double p) {
        if (values.length == 0) {
            return 0;
        }
        java.util.Arrays.sort(values);
        return values[Math.max(0, (int) Math.ceil(p * values.length) - 1)];
    }
}
