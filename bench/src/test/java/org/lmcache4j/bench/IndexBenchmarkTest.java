package org.lmcache4j.bench;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** Runs each {@link IndexBenchmark} body once, small, so that a broken benchmark fails the build. */
class IndexBenchmarkTest {
    @ParameterizedTest(name = "metrics {0}, {1}")
    @CsvSource({"false, LRU", "true, LRU", "false, ADAPTIVE"})
    void bodies_hitWhatWasStored_missTheRest_andLeaveNoPins(boolean metrics, String policy) {
        IndexBenchmark b = new IndexBenchmark();
        b.tokens = 1024;
        b.prompts = 4;
        b.metrics = metrics;
        b.policy = policy;
        b.setUp();
        try {
            assertEquals(1024, b.lookupHit());
            assertEquals(1024, b.lookupHit2Threads());
            assertEquals(0, b.lookupMiss());
            assertEquals(1024 + 4, b.lookupPinUnpin(), "4 chunks pinned, then unpinned");
            assertEquals(0, b.retrieveMiss());
            for (int i = 0; i < 200; i++) {
                assertEquals(1024, b.newPromptEvicting(), "a new prompt misses, then is stored whole");
            }
            b.metricsPerRequest();
        } finally {
            b.tearDown(); // throws if a lease or pin is left
        }
    }
}
