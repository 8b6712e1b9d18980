package org.lmcache4j.bench;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** Runs each {@link IndexBenchmark} body once, small, so that a broken benchmark fails the build. */
class IndexBenchmarkTest {
    @ParameterizedTest(name = "metrics {0}")
    @ValueSource(booleans = {false, true})
    void bodies_hitWhatWasStored_missTheRest_andLeaveNoPins(boolean metrics) {
        IndexBenchmark b = new IndexBenchmark();
        b.tokens = 1024;
        b.prompts = 4;
        b.metrics = metrics;
        b.setUp();
        try {
            assertEquals(1024, b.lookupHit());
            assertEquals(1024, b.lookupHit2Threads());
            assertEquals(0, b.lookupMiss());
            assertEquals(1024 + 4, b.lookupPinUnpin(), "4 chunks pinned, then unpinned");
            assertEquals(0, b.retrieveMiss());
            b.metricsPerRequest();
        } finally {
            b.tearDown(); // throws if a lease or pin is left
        }
    }
}
