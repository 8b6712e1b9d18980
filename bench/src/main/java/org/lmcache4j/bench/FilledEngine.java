package org.lmcache4j.bench;

import org.lmcache4j.CacheEngine;
import org.lmcache4j.EngineConfig;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;

import static org.lmcache4j.bench.ScatteredCaches.CHUNK_TOKENS;

/**
 * An engine over {@link ScatteredCaches} whose pool holds exactly one chunk per mapping, filled
 * at set-up with prompt {@code m} stored from mapping {@code m}. From then on every store of a
 * new prompt evicts the least recently used chunk and reuses its page, warm, as a busy server's
 * does; every retrieve finds its prompt.
 */
@State(Scope.Benchmark)
public class FilledEngine {
    CacheEngine engine;
    private ScatteredCaches caches;
    /** Numbers the prompts; each store gets one never seen, so it is never a skip. */
    private int promptSeq;

    @Setup(Level.Trial)
    public void open(ScatteredCaches caches) {
        this.caches = caches;
        long poolBytes = caches.mappings * caches.chunkBytes();
        EngineConfig config = EngineConfig.builder().chunkSize(CHUNK_TOKENS)
                .maxLocalCpuSizeGb((double) poolBytes / EngineConfig.GB).build();
        engine = CacheEngine.builder().config(config).layout(caches.layout).model("bench")
                .slabTargetBytes(poolBytes).open();
        engine.registerKvCaches(caches.layers());
        for (promptSeq = 0; promptSeq < caches.mappings; promptSeq++) {
            requireWhole(engine.store(prompt(promptSeq), caches.slots[promptSeq], 0), "store");
        }
    }

    @TearDown(Level.Trial)
    public void close() {
        engine.close();
    }

    /** Stores a new prompt's chunk from mapping {@code m}; returns the tokens stored. */
    int store(int m) {
        return engine.store(prompt(promptSeq++), caches.slots[m], 0);
    }

    /** Loads prompt {@code m}, stored at set-up, back into mapping {@code m}; returns the tokens loaded. */
    int retrieve(int m) {
        return engine.retrieve(prompt(m), caches.slots[m], 0);
    }

    /** A chunk of token ids of its own: prompt {@code n} differs from every other in its first token. */
    static int[] prompt(int n) {
        int[] tokens = new int[CHUNK_TOKENS];
        for (int i = 1; i < tokens.length; i++) {
            tokens[i] = i;
        }
        tokens[0] = n;
        return tokens;
    }

    static void requireWhole(int tokens, String what) {
        if (tokens != CHUNK_TOKENS) {
            throw new IllegalStateException(what + " moved " + tokens + " tokens, not a whole chunk");
        }
    }
}
