package org.lmcache4j.bench.sim;

import java.util.LinkedHashSet;

/**
 * ARC (Megiddo and Modha, FAST 2003): recency list {@code T1} and frequency list {@code T2}, each
 * with a ghost list of evicted keys ({@code B1}, {@code B2}); a ghost hit moves the target size
 * {@code p} of T1 towards whichever list would have kept the key. Lists iterate least recently
 * used first.
 */
final class ArcPolicy implements Policy {
    private final int c;
    private final LinkedHashSet<Integer> t1 = new LinkedHashSet<>();
    private final LinkedHashSet<Integer> t2 = new LinkedHashSet<>();
    private final LinkedHashSet<Integer> b1 = new LinkedHashSet<>();
    private final LinkedHashSet<Integer> b2 = new LinkedHashSet<>();
    private double p;

    ArcPolicy(int capacity) {
        this.c = capacity;
    }

    @Override
    public String name() {
        return "ARC";
    }

    @Override
    public boolean contains(int key) {
        return t1.contains(key) || t2.contains(key);
    }

    @Override
    public void hit(int key) {
        if (t1.remove(key) || t2.remove(key)) {
            t2.add(key);
        }
    }

    @Override
    public void insert(int key) {
        if (b1.contains(key)) {
            p = Math.min(c, p + Math.max(1.0, (double) b2.size() / b1.size()));
            replace(false);
            b1.remove(key);
            t2.add(key);
        } else if (b2.contains(key)) {
            p = Math.max(0, p - Math.max(1.0, (double) b1.size() / b2.size()));
            replace(true);
            b2.remove(key);
            t2.add(key);
        } else {
            if (t1.size() + b1.size() >= c) {
                if (t1.size() < c) {
                    b1.removeFirst();
                    replace(false);
                } else {
                    t1.removeFirst();
                }
            } else if (t1.size() + t2.size() + b1.size() + b2.size() >= c) {
                if (t1.size() + t2.size() + b1.size() + b2.size() >= 2 * c) {
                    b2.removeFirst();
                }
                replace(false);
            }
            t1.add(key);
        }
    }

    /** Makes room in T1 + T2 (when full) by moving one LRU key to its ghost list. */
    private void replace(boolean inB2) {
        if (t1.size() + t2.size() < c) {
            return;
        }
        if (!t1.isEmpty() && (t1.size() > p || (inB2 && t1.size() == (int) p)) || t2.isEmpty()) {
            b1.add(t1.removeFirst());
        } else {
            b2.add(t2.removeFirst());
        }
    }
}
