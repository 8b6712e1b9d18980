package org.lmcache4j.metrics;

/**
 * What the engine reports per operation, beyond the counters it always keeps. An engine without
 * a metrics registry gets {@link #DISABLED}, so the hot path never checks for null.
 */
public interface EngineMetrics {
    void lookup(int tokens, int hitTokens, long nanos);

    void store(int tokens, int storedTokens, long bytes, long nanos);

    void retrieve(int requestedTokens, int retrievedTokens, long bytes, long nanos);

    /** A request's prompt length and the tokens of it vLLM's own prefix cache held (told by the connector). */
    void prompt(int promptTokens, int vllmHitTokens);

    EngineMetrics DISABLED = new EngineMetrics() {
        @Override
        public void lookup(int tokens, int hitTokens, long nanos) {
        }

        @Override
        public void store(int tokens, int storedTokens, long bytes, long nanos) {
        }

        @Override
        public void retrieve(int requestedTokens, int retrievedTokens, long bytes, long nanos) {
        }

        @Override
        public void prompt(int promptTokens, int vllmHitTokens) {
        }
    };
}
