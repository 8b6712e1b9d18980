package org.lmcache4j.cli;

/**
 * A simulated policy over a {@link RankedCache} that takes each prompt whole ({@link #apply}), as
 * the engine's ranked policies look a prompt up and store it at once; the chunk-by-chunk
 * {@link #hit} and {@link #insert} of {@link SimulatedPolicy} do not apply to it.
 */
abstract class WholePromptPolicy implements SimulatedPolicy {
    final RankedCache cache;

    WholePromptPolicy(RankedCache cache) {
        this.cache = cache;
    }

    @Override
    public final boolean contains(int key) {
        return cache.contains(key);
    }

    @Override
    public final void hit(int key) {
        throw new UnsupportedOperationException("a prompt is applied whole");
    }

    @Override
    public final void insert(int key) {
        throw new UnsupportedOperationException("a prompt is applied whole");
    }

    @Override
    public abstract void apply(int[] keys, boolean[] present);
}
