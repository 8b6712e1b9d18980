package org.lmcache4j.bench;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** Runs the {@link KvEventsBenchmark} body, small, so that a broken benchmark fails the build. */
class KvEventsBenchmarkTest {
    @ParameterizedTest
    @ValueSource(booleans = {false, true})
    void everyStoreIsNew_andOnceThePoolIsFullEvictsAsMuch(boolean events) {
        KvEventsBenchmark b = new KvEventsBenchmark();
        b.events = events;
        b.tokens = 1024;
        b.setUp();
        try {
            for (int i = 0; i < 16; i++) {
                assertEquals(1024 + (events ? 4 : 0), b.storeAndTake(), "4 chunks stored into room");
            }
            assertEquals(1024 + (events ? 8 : 0), b.storeAndTake(), "4 stored, 4 evicted");
        } finally {
            b.tearDown();
        }
    }
}
