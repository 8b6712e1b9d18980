package org.lmcache4j;

import org.lmcache4j.keys.ChunkKey;

import java.util.List;
import java.util.function.Predicate;

/**
 * LFU and MRU: a {@link RankedOrder} under a fixed rule, without history (neither needs it).
 * Like every ranked order, a full pool declines a new chunk that would rank lowest: under MRU
 * that is every new chunk (it keeps what it has, where evicting the newest to store the next
 * would keep only one chunk of each prompt, and break its prefix).
 */
final class RankedPolicy implements EvictionPolicy {
    final RankedOrder<ChunkEntry> order;

    RankedPolicy(RankRule rule) {
        this(new RankedOrder<>(rule, 0));
    }

    RankedPolicy(RankedOrder<ChunkEntry> order) {
        this.order = order;
    }

    @Override
    public String name() {
        return order.rule() instanceof RankRule.Frequency ? "LFU" : "MRU";
    }

    @Override
    public void lookedUp(ChunkKey[] keys, List<ChunkEntry> leadingHits) {
        order.tick();
        order.use(leadingHits, false);
    }

    @Override
    public void used(List<ChunkEntry> entries, boolean storing) {
        order.use(entries, storing);
    }

    @Override
    public void added(ChunkEntry entry, ChunkEntry previous) {
        order.add(entry, previous);
    }

    @Override
    public void removed(ChunkEntry entry) {
        order.remove(entry);
    }

    @Override
    public boolean admits(ChunkKey key, ChunkEntry previous, ChunkEntry victim) {
        return order.admits(key, previous, victim);
    }

    @Override
    public void declined(ChunkKey key) {
        order.declined(key);
    }

    @Override
    public ChunkEntry first(Predicate<ChunkEntry> test) {
        return order.first(test);
    }

    @Override
    public List<ChunkEntry> first(int max, Predicate<ChunkEntry> test) {
        return order.first(max, test);
    }

    @Override
    public void clear() {
        order.clear();
    }
}
