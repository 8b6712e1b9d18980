package org.lmcache4j.metrics;

import java.util.concurrent.atomic.AtomicLongArray;
import java.util.concurrent.atomic.DoubleAdder;

/**
 * A Prometheus histogram over fixed upper bounds, lock-free: one atomic increment of a bucket and
 * one add to the sum per observation. Buckets are kept per bound (not cumulative), as
 * prometheus_client keeps them, and summed up when rendered.
 */
final class FixedHistogram {
    private final double[] bounds;
    /** One count per bound, then the +Inf bucket. */
    private final AtomicLongArray counts;
    private final DoubleAdder sum = new DoubleAdder();

    FixedHistogram(double[] bounds) {
        this.bounds = bounds;
        this.counts = new AtomicLongArray(bounds.length + 1);
    }

    void observe(double value) {
        int i = 0;
        while (i < bounds.length && value > bounds[i]) {
            i++;
        }
        counts.incrementAndGet(i);
        sum.add(value);
    }

    /** A copy of the counts, per bound and then +Inf (not cumulative), with their sum. */
    Snapshot snapshot() {
        long[] c = new long[counts.length()];
        for (int i = 0; i < c.length; i++) {
            c[i] = counts.get(i);
        }
        return new Snapshot(c, sum.sum());
    }

    record Snapshot(long[] counts, double sum) {
        long count() {
            long n = 0;
            for (long c : counts) {
                n += c;
            }
            return n;
        }
    }
}
