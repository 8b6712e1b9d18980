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

    /** The rank of a chunk last used at tick {@code last}, before that at {@code previous}, {@code uses} times cached. */
    long rank(int last, int previous, int uses);

    default long rank(RankedNode n) {
        return rank(n.lastUse, n.previousUse, n.uses);
    }

    /** Last use minus {@code min(gap since the previous use, window)}. */
    record Window(long window) implements RankRule {
        @Override
        public long rank(int last, int previous, int uses) {
            long gap = previous == RankedNode.NEVER ? FIRST_USE_GAP : (long) last - previous;
            return last - Math.min(gap, window);
        }
    }

    record Frequency() implements RankRule {
        @Override
        public long rank(int last, int previous, int uses) {
            return ((long) uses << 32) + last; // of equal uses, the least recently used first
        }
    }

    record MostRecentFirst() implements RankRule {
        @Override
        public long rank(int last, int previous, int uses) {
            return -(long) last;
        }
    }
}
