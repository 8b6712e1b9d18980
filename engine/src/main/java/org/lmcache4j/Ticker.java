package org.lmcache4j;

/** A source of nanoseconds, injected so that pin expiry and timings are testable. */
@FunctionalInterface
public interface Ticker {
    long nanos();

    Ticker SYSTEM = System::nanoTime;
}
