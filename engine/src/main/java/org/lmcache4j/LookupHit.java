package org.lmcache4j;

/**
 * What a lookup found ({@link CacheEngine#lookupHit}): the prompt's leading tokens the tiers hold,
 * and how many of those the CPU pool holds, so that a caller can tell a hit it may copy at once
 * from one that must be read from disk or Redis first (the vLLM connector's asynchronous loading).
 *
 * @param tokens     leading tokens cached in any tier ({@link CacheEngine#lookup}'s answer)
 * @param poolTokens leading tokens of those in the CPU pool, at most {@code tokens}
 */
public record LookupHit(int tokens, int poolTokens) {
    public LookupHit {
        if (poolTokens < 0 || poolTokens > tokens) {
            throw new IllegalArgumentException("pool tokens " + poolTokens + " must be in 0.." + tokens);
        }
    }

    /** Whether every hit token is in the CPU pool (true for no hit). */
    public boolean allInPool() {
        return poolTokens == tokens;
    }
}
