package org.lmcache4j;

import org.lmcache4j.keys.ChunkKey;

import java.util.List;
import java.util.Locale;
import java.util.function.Predicate;

/**
 * The CPU tier's eviction order ({@code cache_policy}), behind {@link ChunkIndex}. The index
 * tells it what happens to entries; it answers which entry goes first and whether a new chunk is
 * worth a victim. Every implementation keeps prefix contiguity: of a prompt's chunks, the deepest
 * goes first, so a prefix is never evicted while its suffix stays. Not thread-safe: the engine's
 * index lock guards it.
 *
 * <ul>
 *   <li>{@code LRU}: least recently used first; a prompt's chunks are used from the last to the first.</li>
 *   <li>{@code FIFO}: first stored, first evicted, where storing a prompt stores its prefix anew
 *       (a prefix older than its suffix would go first); lookups and retrieves change nothing.</li>
 *   <li>{@code LFU}: fewest uses while cached first, then least recently used.</li>
 *   <li>{@code MRU}: most recently used prompt ranks lowest, so on a full pool a new chunk (ranking below
 *       every victim) is declined and the pool keeps what it has (see {@link RankedPolicy}).</li>
 *   <li>{@code ADAPTIVE}: see {@link AdaptivePolicy}.</li>
 * </ul>
 */
sealed interface EvictionPolicy permits ListOrder, RankedPolicy, AdaptivePolicy {
    List<String> NAMES = List.of("LRU", "LFU", "FIFO", "MRU", "ADAPTIVE");

    /** The policy named {@code name} (one of {@link #NAMES}) for a pool of {@code capacity} chunks. */
    static EvictionPolicy of(String name, int capacity) {
        return switch (name.toUpperCase(Locale.ROOT)) {
            case "LRU" -> new ListOrder(true);
            case "FIFO" -> new ListOrder(false);
            case "LFU" -> new RankedPolicy(new RankRule.Frequency());
            case "MRU" -> new RankedPolicy(new RankRule.MostRecentFirst());
            case "ADAPTIVE" -> new AdaptivePolicy(capacity);
            default -> throw new IllegalArgumentException("unknown cache_policy " + name + " (known: " + NAMES + ")");
        };
    }

    String name();

    /** A prompt of these keys was looked up and these leading chunks hit (prompt order). */
    void lookedUp(ChunkKey[] keys, List<ChunkEntry> leadingHits);

    /** A request used these cached chunks (prompt order); {@code storing}: a store names them, its prompt's. */
    void used(List<ChunkEntry> entries, boolean storing);

    /** A new entry, {@code previous} (or null) the cached chunk before it in its prompt. */
    void added(ChunkEntry entry, ChunkEntry previous);

    void removed(ChunkEntry entry);

    /** Whether a new chunk after {@code previous} may take {@code victim}'s page. */
    boolean admits(ChunkKey key, ChunkEntry previous, ChunkEntry victim);

    /** A chunk not stored because {@link #admits} said no. */
    void declined(ChunkKey key);

    /** The first entry in eviction order that {@code test} accepts, or null. */
    ChunkEntry first(Predicate<ChunkEntry> test);

    /** Up to {@code max} entries in eviction order that {@code test} accepts. */
    List<ChunkEntry> first(int max, Predicate<ChunkEntry> test);

    void clear();
}
