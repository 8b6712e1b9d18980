package org.lmcache4j;

import org.lmcache4j.keys.ChunkKey;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * A cache of keys only, as big as a sample of the pool, that replays the prompts it is fed under
 * a fixed {@link RankRule} exactly as the engine would (a lookup, then a store of the whole
 * prompt), and says how many leading chunks hit. {@link AdaptivePolicy} duels two of them.
 */
final class ShadowCache {
    private final int capacity;
    private final RankedOrder<RankedNode> order;
    private final Map<ChunkKey, RankedNode> nodes = new HashMap<>();

    ShadowCache(int capacity, RankRule rule, long historySlots) {
        this.capacity = capacity;
        this.order = new RankedOrder<>(rule, historySlots);
    }

    /** Looks the prompt up, then stores it; returns the leading chunks that hit. */
    int request(ChunkKey[] keys) {
        order.tick();
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
                            }
                        }
                        break;
                    }
                    order.remove(victim);
                    nodes.remove(victim.key);
                }
                n = new RankedNode(keys[c]);
                nodes.put(n.key, n);
                order.add(n, previous);
            }
            prompt.add(n);
        }
        order.use(prompt, true);
        return lead;
    }
}
