package org.lmcache4j;

import org.lmcache4j.keys.ChunkKey;

import java.util.ArrayList;
import java.util.List;
import java.util.function.Predicate;

/**
 * LRU and FIFO: an intrusive doubly linked list through the entries, O(1) per use. LRU moves a
 * used chunk to the newest end, a prompt's chunks from the last to the first, so that the prefix
 * ends the most recently used. FIFO moves chunks only when a store names them: a store renews the
 * prefix it extends (else the prefix, stored long before, would go before the suffix stored now,
 * and the suffix would never hit), and lookups and retrieves leave the order alone.
 */
final class ListOrder implements EvictionPolicy {
    private final boolean moveOnUse;
    /** Evicted first. */
    private ChunkEntry oldest;
    private ChunkEntry newest;

    ListOrder(boolean moveOnUse) {
        this.moveOnUse = moveOnUse;
    }

    @Override
    public String name() {
        return moveOnUse ? "LRU" : "FIFO";
    }

    @Override
    public void lookedUp(ChunkKey[] keys, List<ChunkEntry> leadingHits) {
        used(leadingHits, false);
    }

    @Override
    public void used(List<ChunkEntry> entries, boolean storing) {
        if (!moveOnUse && !storing) {
            return;
        }
        for (int i = entries.size() - 1; i >= 0; i--) {
            ChunkEntry e = entries.get(i);
            if (newest != e) {
                unlink(e);
                linkNewest(e);
            }
        }
    }

    @Override
    public void added(ChunkEntry entry, ChunkEntry previous) {
        linkNewest(entry);
    }

    @Override
    public void removed(ChunkEntry entry) {
        unlink(entry);
    }

    @Override
    public boolean admits(ChunkKey key, ChunkEntry previous, ChunkEntry victim) {
        return true;
    }

    @Override
    public void declined(ChunkKey key) {
    }

    @Override
    public ChunkEntry first(Predicate<ChunkEntry> test) {
        for (ChunkEntry e = oldest; e != null; e = e.newer) {
            if (test.test(e)) {
                return e;
            }
        }
        return null;
    }

    @Override
    public List<ChunkEntry> first(int max, Predicate<ChunkEntry> test) {
        List<ChunkEntry> out = new ArrayList<>();
        for (ChunkEntry e = oldest; e != null && out.size() < max; e = e.newer) {
            if (test.test(e)) {
                out.add(e);
            }
        }
        return out;
    }

    @Override
    public void clear() {
        for (ChunkEntry e = oldest; e != null; ) {
            ChunkEntry next = e.newer;
            e.older = e.newer = null;
            e = next;
        }
        oldest = newest = null;
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
