package org.lmcache4j;

import org.lmcache4j.keys.ChunkKey;
import org.lmcache4j.memory.PageLease;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * One {@link CacheEngine#lookup} (or {@link CacheEngine#lookupAndPin}): how many leading tokens
 * the tiers hold, walking the CPU tier, then the disk tier's index under the same short lock, then
 * the remote tier in one batch outside it. Only CPU-tier chunks can be pinned: the others have no
 * page yet.
 */
final class LookupOperation {
    private final CacheEngine engine;
    private final String pinFor;
    private final KeyScope scope;
    private final int[] tokens;
    /** Leading chunks of the hit in the CPU tier, set by {@link #walkLocal}. */
    private int poolChunks;

    /** {@code pinFor}: the request to pin the hit chunks for, or null not to pin. */
    LookupOperation(CacheEngine engine, String pinFor, KeyScope scope, int[] tokens) {
        this.engine = engine;
        this.pinFor = pinFor;
        this.scope = scope;
        this.tokens = tokens;
    }

    int run() {
        return runHit().tokens();
    }

    /** The hit, and how much of it the CPU pool holds. */
    LookupHit runHit() {
        RequestCheck.tokens(tokens);
        long start = engine.ticker().nanos();
        ChunkKey[] keys = engine.hasher().keys(scope, tokens);
        int local = engine.locked(() -> walkLocal(keys));
        // Outside the lock: a network round trip.
        int chunks = local + (local < keys.length
                ? engine.remote().leadingPresent(Arrays.asList(keys).subList(local, keys.length)) : 0);
        int hit = chunks == 0 ? 0 : engine.endOf(chunks - 1, tokens.length);
        EngineCounters counters = engine.counters();
        counters.lookupRequests.increment();
        counters.lookupTokens.add(tokens.length);
        counters.lookupHitTokens.add(hit);
        engine.metrics().lookup(tokens.length, hit, engine.ticker().nanos() - start);
        return new LookupHit(hit, poolChunks == 0 ? 0 : engine.endOf(poolChunks - 1, tokens.length));
    }

    /** Caller holds the index lock: the leading chunks in memory (pinned if asked), then on disk. */
    private int walkLocal(ChunkKey[] keys) {
        List<ChunkEntry> hits = engine.leadingHits(keys, tokens, 0);
        if (pinFor != null) {
            List<PageLease> leases = new ArrayList<>(hits.size());
            for (ChunkEntry e : hits) {
                leases.add(engine.pool().lease(e.page));
            }
            engine.pins().pin(pinFor, leases, engine.ticker().nanos());
        }
        engine.index().lookedUp(keys, hits);
        for (int c = 0; c < hits.size(); c++) {
            engine.trace().record(c, keys[c], hits.get(c).tokenCount(), AccessTrace.Kind.HIT);
        }
        int chunks = hits.size();
        poolChunks = chunks;
        int chunkSize = engine.config().chunkSize();
        while (chunks < keys.length
                && engine.disk().contains(keys[chunks], engine.endOf(chunks, tokens.length) - chunks * chunkSize)) {
            chunks++;
        }
        return chunks;
    }
}
