package org.lmcache4j.bridge;

import org.lmcache4j.CacheEngine;
import org.lmcache4j.KeyScope;

/**
 * The Java-API baselines of the native benchmarks ({@code native/bench}): the same engine, caches,
 * tokens and slots as the C or Python caller uses, driven through {@link CacheEngine} directly in
 * the same JVM, so that the C ABI's and Python's cost is the difference between two figures of one
 * run. Called through JNI by {@code libl4jbench.so}; not part of the C ABI.
 */
final class BridgeBenchmark {
    private BridgeBenchmark() {
    }

    /** Nanoseconds for {@code iterations} Java-API lookups of the {@code n} tokens at {@code tokens}. */
    static long lookupNanos(long handle, long tokens, int n, int iterations) {
        CacheEngine engine = NativeBridge.handles().get(handle);
        int[] t = NativeMemory.ints(tokens, n, "tokens");
        long sink = 0;
        long start = System.nanoTime();
        for (int i = 0; i < iterations; i++) {
            sink += engine.lookup(KeyScope.NONE, t);
        }
        long elapsed = System.nanoTime() - start;
        return sink < 0 ? -1 : elapsed;
    }

    /**
     * Nanoseconds for {@code iterations} Java-API stores ({@code retrieve == false}; the cache is
     * cleared before each, outside the timing) or retrieves of the {@code n} tokens and slots.
     * Returns −1 if any call moved fewer than {@code n} tokens.
     */
    static long transferNanos(long handle, boolean retrieve, long tokens, long slots, int n, int iterations) {
        CacheEngine engine = NativeBridge.handles().get(handle);
        int[] t = NativeMemory.ints(tokens, n, "tokens");
        long[] s = NativeMemory.longs(slots, n, "slot_mapping");
        long total = 0;
        boolean complete = true;
        for (int i = 0; i < iterations; i++) {
            if (!retrieve) {
                engine.clear();
            }
            long start = System.nanoTime();
            int moved = retrieve ? engine.retrieve(KeyScope.NONE, t, s, 0) : engine.store(KeyScope.NONE, t, s, 0);
            total += System.nanoTime() - start;
            complete &= moved == n;
        }
        return complete ? total : -1;
    }
}
