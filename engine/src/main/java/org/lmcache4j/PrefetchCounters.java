package org.lmcache4j;

import java.util.concurrent.atomic.LongAdder;

/** The counters behind {@link PrefetchStats}, kept by the prefetcher and its handles. */
final class PrefetchCounters {
    final LongAdder requests = new LongAdder();
    final LongAdder cancelled = new LongAdder();
    final LongAdder failed = new LongAdder();
    final LongAdder diskTokens = new LongAdder();
    final LongAdder remoteTokens = new LongAdder();
    final LongAdder inFlight = new LongAdder();
    final LongAdder finishedOpen = new LongAdder();

    void started() {
        requests.increment();
        inFlight.increment();
    }

    void ended(Prefetch.State end) {
        inFlight.decrement();
        switch (end) {
            case CANCELLED -> cancelled.increment();
            case FAILED -> failed.increment();
            default -> { }
        }
    }

    PrefetchStats snapshot() {
        return new PrefetchStats(requests.sum(), cancelled.sum(), failed.sum(), diskTokens.sum(), remoteTokens.sum(),
                inFlight.sum(), finishedOpen.sum());
    }
}
