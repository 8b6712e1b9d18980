package org.lmcache4j;

import org.lmcache4j.keys.ChunkKey;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The CPU tier's chunks by key, in least-recently-used order.
 *
 * <p>Recency is an intrusive doubly linked list through the entries, so that looking a chunk up
 * ({@link #get}) does not reorder it and touching ({@link #touch}) is explicit: the engine
 * touches a request's chunks from the last to the first, leaving the prefix most recently used,
 * so that under pressure a prompt loses its suffix before its prefix (a prefix without its
 * suffix still hits; a suffix without its prefix never does).
 *
 * <p>What the index gains and loses is told to its {@link KvEventQueue} (for routers): a chunk
 * when it is published, its removal only if it was published.
 *
 * <p>Not thread-safe: the engine guards it with its index lock.
 */
final class ChunkIndex {
    private final Map<ChunkKey, ChunkEntry> byKey = new HashMap<>();
    private final KvEventQueue events;
    /** Least recently used end. */
    private ChunkEntry oldest;
    /** Most recently used end. */
    private ChunkEntry newest;

    ChunkIndex(KvEventQueue events) {
        this.events = events;
    }

    int size() {
        return byKey.size();
    }

    /** Makes an indexed entry servable (its bytes are complete) and tells the event queue. */
    void publish(ChunkEntry entry) {
        entry.publish();
        events.stored(entry);
    }

    /** The entry under {@code key}, without changing its recency. */
    ChunkEntry get(ChunkKey key) {
        return byKey.get(key);
    }

    /** Adds an entry as the most recently used; the key must be absent. */
    void add(ChunkEntry entry) {
        if (byKey.putIfAbsent(entry.key, entry) != null) {
            throw new IllegalStateException("chunk " + entry.key + " is already indexed");
        }
        linkNewest(entry);
    }

    /** Whether {@code entry} (this very object) is indexed. */
    boolean contains(ChunkEntry entry) {
        return byKey.get(entry.key) == entry;
    }

    /** Makes the entry the most recently used; an entry no longer indexed is left alone. */
    void touch(ChunkEntry entry) {
        if (newest != entry && contains(entry)) {
            unlink(entry);
            linkNewest(entry);
        }
    }

    /** Removes the entry if this very object is indexed; returns whether it was. */
    boolean remove(ChunkEntry entry) {
        if (!byKey.remove(entry.key, entry)) {
            return false;
        }
        unlink(entry);
        if (entry.published()) {
            events.removed(entry);
        }
        return true;
    }

    /**
     * Removes and returns the least recently used published entry that {@code evictable} accepts
     * (the engine's test: nobody but the index references its page), or null if none.
     */
    ChunkEntry evictOldest(java.util.function.Predicate<ChunkEntry> evictable) {
        for (ChunkEntry e = oldest; e != null; e = e.newer) {
            if (e.published() && evictable.test(e)) {
                remove(e);
                return e;
            }
        }
        return null;
    }

    /** Up to {@code max} entries from the least recently used end that {@code test} accepts. */
    List<ChunkEntry> oldest(int max, java.util.function.Predicate<ChunkEntry> test) {
        List<ChunkEntry> out = new ArrayList<>();
        for (ChunkEntry e = oldest; e != null && out.size() < max; e = e.newer) {
            if (test.test(e)) {
                out.add(e);
            }
        }
        return out;
    }

    /** Removes every entry and returns them. */
    List<ChunkEntry> removeAll() {
        List<ChunkEntry> all = new ArrayList<>(byKey.values());
        byKey.clear();
        oldest = newest = null;
        for (ChunkEntry e : all) {
            e.older = e.newer = null;
        }
        if (!all.isEmpty()) {
            events.cleared();
        }
        return all;
    }

    private void linkNewest(ChunkEntry e) {
        e.older = newest;
        e.newer = null;
        if (newest != null) {
            newest.newer = e;
        } else {
            oldest = e;
        }
        newest = e;
    }

    private void unlink(ChunkEntry e) {
        if (e.older != null) {
            e.older.newer = e.newer;
        } else {
            oldest = e.newer;
        }
        if (e.newer != null) {
            e.newer.older = e.older;
        } else {
            newest = e.older;
        }
        e.older = e.newer = null;
    }
}
