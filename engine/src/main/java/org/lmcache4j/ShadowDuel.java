package org.lmcache4j;

import org.lmcache4j.keys.ChunkKey;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Predicate;

/**
 * {@link AdaptivePolicy}'s two shadows (LRU, LRU-2), which of them leads, and, per shadow, the
 * pool's chunks it lacks: the pool evicts those of the leader first and declines what the leader
 * declined.
 *
 * <p>Replayed inline, under the engine's index lock like every policy call: a replay on a
 * background thread was tried (the decisions made to wait for it, so they stay the same) and
 * cost more on the request's path than it saved, on this 2-core machine shared with builds
 * (docs/benchmarks.md, "Policies").
 */
final class ShadowDuel {
    private static final int LRU = 0;
    private static final int LRU2 = 1;

    /** Every key a shadow or the pool holds. */
    private final Map<ChunkKey, AdaptiveSlot> slots = new HashMap<>();
    private final ShadowCache[] shadows;
    /** Per shadow, the cached chunks it does not hold, in the order it dropped (or never took) them. */
    private final AdaptiveSlot.Lacking[] lacking = {new AdaptiveSlot.Lacking(LRU), new AdaptiveSlot.Lacking(LRU2)};
    /** The last prompt's slots: any left empty (declined by both shadows, not cached) go at the next. */
    private AdaptiveSlot[] lastPrompt = new AdaptiveSlot[0];
    private double score;
    private double squares;
    private int leader = LRU;

    ShadowDuel(int capacity) {
        this.shadows = new ShadowCache[] {
                new ShadowCache(LRU, capacity, AdaptivePolicy.LRU, 0, tracker(LRU)),
                new ShadowCache(LRU2, capacity, AdaptivePolicy.LRU2,
                        (long) AdaptivePolicy.HISTORY_PER_CHUNK * capacity, tracker(LRU2))};
    }

    private ShadowCache.Listener tracker(int shadow) {
        return new ShadowCache.Listener() {
            @Override
            public void admitted(AdaptiveSlot slot) {
                lacking[shadow].remove(slot);
            }

            @Override
            public void evicted(AdaptiveSlot slot) {
                if (slot.entry != null) {
                    lacking[shadow].add(slot);
                } else if (slot.empty()) {
                    slots.remove(slot.key);
                }
            }
        };
    }

    /** Replays a looked-up prompt in both shadows and updates which leads. */
    void lookedUp(ChunkKey[] keys) {
        if (keys.length > 0) {
            replay(keys);
        }
    }

    private void replay(ChunkKey[] keys) {
        forgetEmpty(lastPrompt);
        AdaptiveSlot[] prompt = new AdaptiveSlot[keys.length];
        for (int c = 0; c < keys.length; c++) {
            prompt[c] = slots.computeIfAbsent(keys[c], AdaptiveSlot::new);
        }
        int d = shadows[LRU2].request(prompt) - shadows[LRU].request(prompt);
        score = score * (1 - 1.0 / AdaptivePolicy.DECAY) + d;
        squares = squares * (1 - 1.0 / AdaptivePolicy.DECAY) + (double) d * d;
        double z = AdaptivePolicy.Z;
        leader = score > 0 && score * score > z * z * squares ? LRU2 : LRU;
        lastPrompt = prompt;
    }

    private void forgetEmpty(AdaptiveSlot[] prompt) {
        for (AdaptiveSlot s : prompt) {
            if (s.empty()) {
                slots.remove(s.key, s);
            }
        }
    }

    void added(ChunkEntry entry) {
        AdaptiveSlot slot = slots.computeIfAbsent(entry.key, AdaptiveSlot::new);
        slot.entry = entry;
        entry.adaptive = slot;
        for (int s = 0; s < shadows.length; s++) {
            if (!shadows[s].contains(slot)) {
                lacking[s].add(slot);
            }
        }
    }

    void removed(ChunkEntry entry) {
        AdaptiveSlot slot = entry.adaptive;
        if (slot != null && slot.entry == entry) {
            slot.entry = null;
            entry.adaptive = null;
            for (AdaptiveSlot.Lacking l : lacking) {
                l.remove(slot);
            }
            if (slot.empty()) {
                slots.remove(slot.key, slot);
            }
        }
    }

    /** Whether the leading shadow declined {@code key} for the last prompt looked up. */
    boolean leaderDeclined(ChunkKey key) {
        AdaptiveSlot slot = slots.get(key);
        return slot != null && shadows[leader].declinedLast(slot);
    }

    /** The first chunk the leader dropped that {@code test} accepts, else the pool's first. */
    ChunkEntry first(ListOrder pool, Predicate<ChunkEntry> test) {
        AdaptiveSlot.Lacking dropped = lacking[leader];
        for (AdaptiveSlot s = dropped.head; s != null; s = dropped.after(s)) {
            if (test.test(s.entry)) {
                return s.entry;
            }
        }
        return pool.first(test);
    }

    /** Up to {@code max}: the chunks the leader dropped first, then the pool's order. */
    List<ChunkEntry> first(ListOrder pool, int max, Predicate<ChunkEntry> test) {
        List<ChunkEntry> out = new ArrayList<>();
        AdaptiveSlot.Lacking dropped = lacking[leader];
        for (AdaptiveSlot s = dropped.head; s != null && out.size() < max; s = dropped.after(s)) {
            if (test.test(s.entry)) {
                out.add(s.entry);
            }
        }
        if (out.size() < max) {
            out.addAll(pool.first(max - out.size(), e -> !dropped.contains(e.adaptive) && test.test(e)));
        }
        return out;
    }

    void clear() {
        for (AdaptiveSlot.Lacking l : lacking) {
            l.clear();
        }
        for (AdaptiveSlot s : slots.values()) {
            if (s.entry != null) {
                s.entry.adaptive = null;
                s.entry = null;
            }
        }
        slots.values().removeIf(AdaptiveSlot::empty);
    }
}
