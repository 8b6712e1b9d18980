package org.lmcache4j;

import org.lmcache4j.keys.ChunkKey;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Predicate;

/**
 * The CPU tier's chunks by key, in the eviction order of its {@link EvictionPolicy}
 * ({@code cache_policy}).
 *
 * <p>Looking a chunk up ({@link #get}) changes nothing; uses are explicit and name a prompt's
 * chunks in prompt order ({@link #lookedUp}, {@link #used}), so that the policy can keep a
 * prompt's prefix ahead of its suffix (a prefix without its suffix still hits; a suffix without
 * its prefix never does).
 *
 * <p>What the index gains and loses is told to its {@link KvEventQueue} (for routers): a chunk
 * when it is published, its removal only if it was published.
 *
 * <p>Not thread-safe: the engine guards it with its index lock.
 */
final class ChunkIndex {
    private final Map<ChunkKey, ChunkEntry> byKey = new HashMap<>();
    private final KvEventQueue events;
    private final EvictionPolicy policy;

    ChunkIndex(KvEventQueue events, EvictionPolicy policy) {
        this.events = events;
        this.policy = policy;
    }

    int size() {
        return byKey.size();
    }

    EvictionPolicy policy() {
        return policy;
    }

    /** Makes an indexed entry servable (its bytes are complete) and tells the event queue. */
    void publish(ChunkEntry entry) {
        entry.publish();
        events.stored(entry);
    }

    /** The entry under {@code key}, without using it. */
    ChunkEntry get(ChunkKey key) {
        return byKey.get(key);
    }

    /** Adds an entry (the key must be absent), after the cached chunk before it in its prompt, if any. */
    void add(ChunkEntry entry) {
        if (byKey.putIfAbsent(entry.key, entry) != null) {
            throw new IllegalStateException("chunk " + entry.key + " is already indexed");
        }
        ChunkEntry parent = entry.first ? null : byKey.get(entry.parent);
        if (parent != null) {
            parent.children++;
        }
        policy.added(entry, parent);
    }

    /** Whether {@code entry} (this very object) is indexed. */
    boolean contains(ChunkEntry entry) {
        return byKey.get(entry.key) == entry;
    }

    /** A prompt of these keys was looked up and these leading entries hit. */
    void lookedUp(ChunkKey[] keys, List<ChunkEntry> leadingHits) {
        policy.lookedUp(keys, leadingHits);
    }

    /**
     * A request used these entries (prompt order; {@code storing}: a store, naming its prompt's
     * chunks); entries no longer indexed are left alone.
     */
    void used(List<ChunkEntry> entries, boolean storing) {
        List<ChunkEntry> indexed = new ArrayList<>(entries.size());
        for (ChunkEntry e : entries) {
            if (contains(e)) {
                indexed.add(e);
            }
        }
        policy.used(indexed, storing);
    }

    /** Whether a new chunk {@code key}, after {@code previous} in its prompt, may take {@code victim}'s page. */
    boolean admits(ChunkKey key, ChunkEntry previous, ChunkEntry victim) {
        return policy.admits(key, previous, victim);
    }

    /** A chunk not stored because the policy declined it. */
    void declined(ChunkKey key) {
        policy.declined(key);
    }

    /** Removes the entry if this very object is indexed; returns whether it was. */
    boolean remove(ChunkEntry entry) {
        if (!byKey.remove(entry.key, entry)) {
            return false;
        }
        ChunkEntry parent = entry.first ? null : byKey.get(entry.parent);
        if (parent != null && parent.children > 0) {
            parent.children--;
        }
        policy.removed(entry);
        if (entry.published()) {
            events.removed(entry);
        }
        return true;
    }

    /**
     * The first published entry in eviction order that {@code evictable} accepts (the engine's
     * test: nobody but the index references its page), or null if none. Not removed.
     */
    ChunkEntry victim(Predicate<ChunkEntry> evictable) {
        return policy.first(e -> e.published() && e.children == 0 && evictable.test(e));
    }

    /** Up to {@code max} entries from the front of the eviction order that {@code test} accepts. */
    List<ChunkEntry> oldest(int max, Predicate<ChunkEntry> test) {
        return policy.first(max, test);
    }

    /** Removes every entry and returns them. */
    List<ChunkEntry> removeAll() {
        List<ChunkEntry> all = new ArrayList<>(byKey.values());
        byKey.clear();
        policy.clear();
        if (!all.isEmpty()) {
            events.cleared();
        }
        return all;
    }
}
