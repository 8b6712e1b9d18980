package org.lmcache4j.bench;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** Runs each {@link IndexBenchmark} body once, small, so that a broken benchmark fails the build. */
class IndexBenchmarkTest {
    @Test
    void bodies_hitWhatWasStored_missTheRest_andLeaveNoPins() {
        IndexBenchmark b = new IndexBenchmark();
        b.tokens = 1024;
        b.prompts = 4;
        b.setUp();
        try {
            assertEquals(1024, b.lookupHit());
            assertEquals(1024, b.lookupHit2Threads());
            assertEquals(0, b.lookupMiss());
            assertEquals(1024 + 4, b.lookupPinUnpin(), "4 chunks pinned, then unpinned");
            assertEquals(0, b.retrieveMiss());
        } finally {
            b.tearDown(); // throws if a lease or pin is left
        }
    }
}
