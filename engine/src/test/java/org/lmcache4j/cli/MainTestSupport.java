package org.lmcache4j.cli;

/** Small helpers for building command lines in tests. */
final class MainTestSupport {
    private MainTestSupport() {
    }

    static String[] concat(String[] a, String... b) {
        String[] all = java.util.Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, all, a.length, b.length);
        return all;
    }
}
