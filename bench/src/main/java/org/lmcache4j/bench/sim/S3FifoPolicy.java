package org.lmcache4j.bench.sim;

import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.Map;

/**
 * S3-FIFO (Yang et al., SOSP 2023): a small FIFO {@code S} (10% of the capacity) that new chunks
 * enter, a main FIFO {@code M}, and a ghost FIFO {@code G} of keys recently evicted from S. A hit
 * raises the chunk's frequency (at most 3). Evicting from S moves a chunk that was hit at least
 * once to M, and drops the others into G; a miss found in G goes straight to M. Evicting from M
 * gives a chunk with frequency above zero another lap (frequency minus one).
 */
final class S3FifoPolicy implements Policy {
    private final int capacity;
    private final int smallCapacity;
    private final LinkedHashSet<Integer> small = new LinkedHashSet<>();
    private final LinkedHashSet<Integer> main = new LinkedHashSet<>();
    private final LinkedHashSet<Integer> ghost = new LinkedHashSet<>();
    private final Map<Integer, Integer> freq = new HashMap<>();

    S3FifoPolicy(int capacity) {
        this.capacity = capacity;
        this.smallCapacity = Math.max(1, capacity / 10);
    }

    @Override
    public String name() {
        return "S3-FIFO";
    }

    @Override
    public boolean contains(int key) {
        return freq.containsKey(key);
    }

    @Override
    public void hit(int key) {
        freq.computeIfPresent(key, (k, f) -> Math.min(3, f + 1));
    }

    @Override
    public void insert(int key) {
        while (small.size() + main.size() >= capacity) {
            if (small.size() >= smallCapacity || main.isEmpty()) {
                evictSmall();
            } else {
                evictMain();
            }
        }
        freq.put(key, 0);
        if (ghost.remove(key)) {
            main.add(key);
        } else {
            small.add(key);
        }
    }

    private void evictSmall() {
        while (!small.isEmpty()) {
            int t = small.removeFirst();
            if (freq.get(t) >= 1) {
                freq.put(t, 0);
                main.add(t);
                if (main.size() > capacity - smallCapacity && main.size() > 1) {
                    evictMain();
                    return;
                }
            } else {
                freq.remove(t);
                ghost.add(t);
                if (ghost.size() > capacity - smallCapacity) {
                    ghost.removeFirst();
                }
                return;
            }
        }
    }

    private void evictMain() {
        while (!main.isEmpty()) {
            int t = main.removeFirst();
            int f = freq.get(t);
            if (f > 0) {
                freq.put(t, f - 1);
                main.add(t);
            } else {
                freq.remove(t);
                return;
            }
        }
    }
}
