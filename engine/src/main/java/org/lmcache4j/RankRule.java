package org.lmcache4j;

/**
 * How a {@link RankedOrder} ranks a chunk from its uses (higher stays longer). {@code window}
 * rules span LRU (0: rank = last use) to LRU-2 (infinite: rank = the use before the last, a chunk
 * used once ranking below every chunk used twice); LFU ranks by uses while cached (then by last use), MRU by
 * the last use's negation.
 */
sealed interface RankRule {
    /** A first use counts as a gap this long: below any real gap, yet far from overflowing. */
    long FIRST_USE_GAP = 1L << 40;

    long rank(RankedNode n);

    /** Last use minus {@code min(gap since the previous use, window)}. */
    record Window(long window) implements RankRule {
        @Override
        public long rank(RankedNode n) {
            long gap = n.previousUse == RankedNode.NEVER ? FIRST_USE_GAP : (long) n.lastUse - n.previousUse;
            return n.lastUse - Math.min(gap, window);
        }
    }

    record Frequency() implements RankRule {
        @Override
        public long rank(RankedNode n) {
            return ((long) n.uses << 32) + n.lastUse; // of equal uses, the least recently used first
        }
    }

    record MostRecentFirst() implements RankRule {
        @Override
        public long rank(RankedNode n) {
            return -(long) n.lastUse;
        }
    }
}
