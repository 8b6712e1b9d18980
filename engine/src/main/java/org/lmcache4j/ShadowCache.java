package org.lmcache4j;

import java.util.ArrayList;
import java.util.List;

/**
 * A cache of keys only, as big as the pool, that replays every prompt it is fed under a fixed
 * {@link RankRule} exactly as the engine would (a lookup, then a store of the whole prompt), says
 * how many leading chunks hit, and tells its {@link Listener} each key it admits or evicts.
 * {@link ShadowDuel} duels two of them and makes the pool follow the one that leads. Its nodes
 * hang off the duel's {@link AdaptiveSlot}s (one per key, shared by both shadows and the pool),
 * so that a request costs one hash lookup per chunk for all of them.
 */
final class ShadowCache {
    /** A key's node in one shadow's order. */
    static final class Node extends RankedNode {
        final AdaptiveSlot slot;

        Node(AdaptiveSlot slot) {
            super(slot.key);
            this.slot = slot;
        }
    }

    /** Told of each key the shadow admits and evicts, as it happens. */
    interface Listener {
        void admitted(AdaptiveSlot slot);

        void evicted(AdaptiveSlot slot);
    }

    private final int index;
    private final int capacity;
    private final RankedOrder<Node> order;
    private final Listener listener;
    /** Requests replayed so far: {@link AdaptiveSlot#declinedAt(int)} names the one that declined. */
    private long requests;
    /** Reused between requests (the index lock makes this single-threaded). */
    private final List<Node> present = new ArrayList<>();
    private final List<Node> prompt = new ArrayList<>();

    /** {@code index}: which of a slot's nodes is this shadow's. */
    ShadowCache(int index, int capacity, RankRule rule, long historySlots, Listener listener) {
        this.index = index;
        this.capacity = capacity;
        this.order = new RankedOrder<>(rule, historySlots);
        this.listener = listener;
    }

    boolean contains(AdaptiveSlot slot) {
        return slot.node(index) != null;
    }

    /** Whether the last request declined this key (a full shadow, the key ranking too low). */
    boolean declinedLast(AdaptiveSlot slot) {
        return slot.declinedAt(index) == requests;
    }

    /** Looks the prompt (a slot per chunk) up, then stores it; returns the leading chunks that hit. */
    int request(AdaptiveSlot[] slots) {
        requests++;
        order.tick();
        present.clear();
        int lead = 0;
        while (lead < slots.length && slots[lead].node(index) != null) {
            present.add(slots[lead++].node(index));
        }
        order.use(present, true);
        // the store: the new chunks, then the whole prompt again (the engine's store also uses the
        // chunks already here first; a model need not, and the leading ones were just used)
        prompt.clear();
        for (int c = 0; c < slots.length; c++) {
            Node n = slots[c].node(index);
            if (n == null) {
                Node previous = c == 0 ? null : slots[c - 1].node(index);
                if (order.size() >= capacity) {
                    Node victim = order.first(v -> true);
                    if (!order.admits(slots[c].key, previous, victim)) {
                        for (int d = c; d < slots.length; d++) {
                            if (slots[d].node(index) == null) {
                                order.declined(slots[d].key);
                                slots[d].declinedAt(index, requests);
                            }
                        }
                        break;
                    }
                    order.remove(victim);
                    victim.slot.node(index, null);
                    listener.evicted(victim.slot);
                }
                n = new Node(slots[c]);
                slots[c].node(index, n);
                order.add(n, previous);
                listener.admitted(slots[c]);
            }
            prompt.add(n);
        }
        order.use(prompt, true);
        return lead;
    }
}
