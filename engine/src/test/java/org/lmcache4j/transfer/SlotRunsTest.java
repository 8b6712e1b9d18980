package org.lmcache4j.transfer;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

class SlotRunsTest {
    @Test
    void runs_wholeBlocks_oneRunPerBlockUnlessContiguousAcrossBlocks() {
        long[] slots = {16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32, 33};
        SlotRuns within = SlotRuns.of(slots, 0, slots.length, 16, false);
        assertEquals(2, within.count);
        assertArrayEquals(new int[]{16, 2}, java.util.Arrays.copyOf(within.length, 2));
        SlotRuns across = SlotRuns.of(slots, 0, slots.length, 16, true);
        assertEquals(1, across.count);
        assertEquals(18, across.length[0]);
    }

    @Test
    void runs_holesAndJumps_splitRuns() {
        long[] slots = {3, 4, -1, 7, 9, 10, -1};
        SlotRuns runs = SlotRuns.of(slots, 0, slots.length, 16, true);
        assertEquals(3, runs.count);
        assertArrayEquals(new int[]{0, 3, 4}, java.util.Arrays.copyOf(runs.tokenStart, 3));
        assertArrayEquals(new long[]{3, 7, 9}, java.util.Arrays.copyOf(runs.slotStart, 3));
        assertArrayEquals(new int[]{2, 1, 2}, java.util.Arrays.copyOf(runs.length, 3));
    }
}
