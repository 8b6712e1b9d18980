package org.lmcache4j.bridge;

import org.lmcache4j.EngineConfig;
import org.lmcache4j.EngineStats;
import org.lmcache4j.config.ConfigLoader;

/**
 * What the C ABI answers for an engine's counters and configuration, in one place for every way a
 * C caller reaches an engine: the JNI bridge, the lookup socket, and {@code lmcache4j server}.
 */
public final class AbiAnswers {
    private AbiAnswers() {
    }

    /** The effective configuration as one line of JSON with LMCache's key names ({@code lmcache4j_config_json}). */
    public static String configJson(EngineConfig config) {
        return org.lmcache4j.cli.Json.write(ConfigLoader.describe(config));
    }

    /** The counters of {@code lmcache4j_engine_stats}, in its order (from chunks to pool_growth_wait_nanos). */
    public static long[] statsFields(EngineStats s) {
        return new long[] {s.chunks(), s.pagesInUse(), s.capacityPages(), s.usedBytes(), s.capacityBytes(),
                s.mappedBytes(), s.leases(), s.pins(), s.evictions(), s.storeSkippedChunks(), s.forcedUnpins(),
                s.lookupRequests(), s.lookupTokens(), s.lookupHitTokens(), s.storeRequests(), s.storedTokens(),
                s.retrieveRequests(), s.requestedTokens(), s.retrievedTokens(), s.poolGrowthWaitNanos()};
    }
}
