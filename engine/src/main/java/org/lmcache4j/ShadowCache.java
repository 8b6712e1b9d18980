package org.lmcache4j;

import org.lmcache4j.keys.ChunkKey;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * A cache of keys only, as big as the pool, that replays every prompt it is fed under a fixed
 * {@link RankRule} exactly as the engine would (a lookup, then a store of the whole prompt), says
 * how many leading chunks hit, and tells its {@link Listener} each key it admits or evicts.
 * {@link AdaptivePolicy} duels two of them and makes the pool follow the one that leads.
 */
final class ShadowCache {
    /** Told of each key the shadow admits and evicts, as it happens. */
    interface Listener {
        void admitted(ChunkKey key);

        void evicted(ChunkKey key);
    }

    private final int capacity;
    private final RankedOrder<RankedNode> order;
    private final Map<ChunkKey, RankedNode> nodes = new HashMap<>();
    private final Listener listener;
    /** The keys the last request declined. */
    private final Set<ChunkKey> declined = new HashSet<>();

    ShadowCache(int capacity, RankRule rule, long historySlots, Listener listener) {
        this.capacity = capacity;
        this.order = new RankedOrder<>(rule, historySlots);
        this.listener = listener;
    }

    boolean contains(ChunkKey key) {
        return nodes.containsKey(key);
    }

    /** Whether the last request declined {@code key} (a full shadow, the key ranking too low). */
    boolean declinedLast(ChunkKey key) {
        return !declined.isEmpty() && declined.contains(key);
    }

    /** Looks the prompt up, then stores it; returns the leading chunks that hit. */
    int request(ChunkKey[] keys) {
        order.tick();
        declined.clear();
        List<RankedNode> present = new ArrayList<>();
        int lead = 0;
        while (lead < keys.length && nodes.containsKey(keys[lead])) {
            present.add(nodes.get(keys[lead++]));
        }
        order.use(present, true);
        // the store: the new chunks, then the whole prompt again (the engine's store also uses the
        // chunks already here first; a model need not, and the leading ones were just used)
        List<RankedNode> prompt = new ArrayList<>();
        for (int c = 0; c < keys.length; c++) {
            RankedNode n = nodes.get(keys[c]);
            if (n == null) {
                RankedNode previous = c == 0 ? null : nodes.get(keys[c - 1]);
                if (nodes.size() >= capacity) {
                    RankedNode victim = order.first(v -> true);
                    if (!order.admits(keys[c], previous, victim)) {
                        for (int d = c; d < keys.length; d++) {
                            if (!nodes.containsKey(keys[d])) {
                                order.declined(keys[d]);
                                declined.add(keys[d]);
                            }
                        }
                        break;
                    }
                    order.remove(victim);
                    nodes.remove(victim.key);
                    listener.evicted(victim.key);
                }
                n = new RankedNode(keys[c]);
                nodes.put(n.key, n);
                order.add(n, previous);
                listener.admitted(n.key);
            }
            prompt.add(n);
        }
        order.use(prompt, true);
        return lead;
    }
}
