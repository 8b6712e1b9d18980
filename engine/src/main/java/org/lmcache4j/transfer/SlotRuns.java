package org.lmcache4j.transfer;

/**
 * A chunk's slot mapping cut into maximal runs of adjacent rows: token {@code tokenStart[i]}
 * (relative to the chunk) onwards, {@code length[i]} tokens, at slot {@code slotStart[i]}
 * onwards. A block's tokens are contiguous, so a run is at least a block's worth of tokens in the
 * common case and one copy moves it; {@code -1} slots end a run and belong to none.
 */
final class SlotRuns {
    final int[] tokenStart;
    final long[] slotStart;
    final int[] length;
    final int count;

    private SlotRuns(int[] tokenStart, long[] slotStart, int[] length, int count) {
        this.tokenStart = tokenStart;
        this.slotStart = slotStart;
        this.length = length;
        this.count = count;
    }

    static SlotRuns of(long[] slots, int from, int to, int blockSize, boolean acrossBlocks) {
        int n = to - from;
        int[] tokenStart = new int[n];
        long[] slotStart = new long[n];
        int[] length = new int[n];
        int count = 0;
        int t = from;
        while (t < to) {
            long s = slots[t];
            if (s < 0) {
                t++;
                continue;
            }
            int end = t + 1;
            while (end < to && slots[end] == s + (end - t)
                    && (acrossBlocks || slots[end] % blockSize != 0)) {
                end++;
            }
            tokenStart[count] = t - from;
            slotStart[count] = s;
            length[count] = end - t;
            count++;
            t = end;
        }
        return new SlotRuns(tokenStart, slotStart, length, count);
    }
}
