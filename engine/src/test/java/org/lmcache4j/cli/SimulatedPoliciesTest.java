package org.lmcache4j.cli;

import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Each policy on small traces worked out by hand, and the optimum above them all on random prefix traces. */
class SimulatedPoliciesTest {
    /** Prompts given as lists of block ids, one 256-token chunk per block (blocks of 256 tokens). */
    private static ChunkedTrace prompts(int[]... blocks) {
        List<PromptTrace.Prompt> list = new ArrayList<>();
        int maxId = 0;
        for (int[] ids : blocks) {
            int[] tokens = new int[ids.length];
            java.util.Arrays.fill(tokens, 256);
            list.add(new PromptTrace.Prompt(0, ids, tokens, 256 * ids.length));
            for (int id : ids) {
                maxId = Math.max(maxId, id);
            }
        }
        long[] seeds = new long[maxId + 1];
        return ChunkedTrace.of(new PromptTrace("test", list, seeds), 256, true);
    }

    private static long hits(ChunkedTrace t, String policy, int capacity) {
        return Simulation.hitTokens(t, SimulatedPolicies.create(policy, capacity, t), Simulation.Progress.NONE) / 256;
    }

    @Test
    void registry_namesLmcachePoliciesThenTheOptimum() {
        assertEquals(List.of("lru", "lfu", "fifo", "mru", "adaptive", "optimum"), SimulatedPolicies.names());
        assertEquals(List.of("lru", "optimum"), SimulatedPolicies.select("LRU, optimum"));
        IllegalArgumentException e = org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class,
                () -> SimulatedPolicies.select("arc"));
        assertTrue(e.getMessage().contains("unknown policy 'arc' (policies: lru, lfu, fifo, mru, adaptive, optimum, or all)"));
    }

    @Test
    void lru_evictsTheLeastRecentlyUsed_fifoTheFirstIn() {
        // cap 2: A B | A hit | C evicts B (LRU) or A (FIFO) | then B, then A
        ChunkedTrace t = prompts(new int[]{0}, new int[]{1}, new int[]{0}, new int[]{2}, new int[]{1}, new int[]{0});
        assertEquals(1, hits(t, "lru", 2), "A; then B and A miss");
        assertEquals(2, hits(t, "fifo", 2), "A, then B");
    }

    @Test
    void lru_aPromptLongerThanThePool_keepsItsPrefix_andSkipsTheRest() {
        // cap 2, a 3-chunk prompt: the engine stores chunks 0 and 1, then has no page it may evict
        ChunkedTrace t = prompts(new int[]{0, 1, 2}, new int[]{0, 1, 2});
        assertEquals(2, hits(t, "lru", 2));
    }

    @Test
    void lfu_keepsTheOftenUsed_evictingTheSuffixFirstAmongEquals() {
        // cap 2: A used three times, then B C D each once: A stays; the last of B C D is there too
        ChunkedTrace t = prompts(new int[]{0}, new int[]{0}, new int[]{0}, new int[]{1}, new int[]{2}, new int[]{3},
                new int[]{0}, new int[]{3});
        assertEquals(2 + 1 + 1, hits(t, "lfu", 2));
        assertEquals(2 + 0 + 1, hits(t, "lru", 2), "LRU loses A to C, D");
        // one prompt of two chunks, then another: among equal counts the prefix (0) outlives its suffix (1)
        ChunkedTrace p = prompts(new int[]{0, 1}, new int[]{2}, new int[]{0});
        assertEquals(1, hits(p, "lfu", 2));
    }

    @Test
    void mru_evictsTheMostRecentlyUsed() {
        // cap 2: A B | C evicts B, the most recent | A hits, C hits
        ChunkedTrace t = prompts(new int[]{0}, new int[]{1}, new int[]{2}, new int[]{0}, new int[]{2});
        assertEquals(2, hits(t, "mru", 2));
        assertEquals(1, hits(t, "lru", 2), "LRU: C evicts A, A evicts B, C hits");
    }

    @Test
    void optimum_cyclicTrace_beatsLru() {
        // cap 2, A B C A B C A: LRU never hits; the optimum skips C, hits A and B, then keeps A
        ChunkedTrace t = prompts(new int[]{0}, new int[]{1}, new int[]{2}, new int[]{0}, new int[]{1}, new int[]{2},
                new int[]{0});
        assertEquals(0, hits(t, "lru", 2));
        assertEquals(3, hits(t, "optimum", 2));
    }

    @Test
    void optimum_isTheCeiling_onRandomPrefixTraces() {
        Random rnd = new Random(7);
        for (int trial = 0; trial < 200; trial++) {
            // conversations that grow: a prompt is a conversation's history (ids stand for their prefix)
            int conversations = 1 + rnd.nextInt(4);
            List<List<Integer>> history = new ArrayList<>();
            for (int c = 0; c < conversations; c++) {
                history.add(new ArrayList<>(List.of(0)));
            }
            int next = 1;
            List<int[]> prompts = new ArrayList<>();
            for (int r = 0; r < 4 + rnd.nextInt(10); r++) {
                List<Integer> h = history.get(rnd.nextInt(conversations));
                if (rnd.nextBoolean() || h.size() == 1) {
                    h.add(next++);
                }
                prompts.add(h.stream().mapToInt(Integer::intValue).toArray());
            }
            ChunkedTrace t = prompts(prompts.toArray(new int[0][]));
            int capacity = 1 + rnd.nextInt(5);
            long optimum = hits(t, "optimum", capacity);
            long infinite = Simulation.infiniteHitTokens(t) / 256;
            assertTrue(optimum <= infinite);
            for (String policy : SimulatedPolicies.names()) {
                assertTrue(hits(t, policy, capacity) <= optimum, policy + " above the optimum in trial " + trial);
            }
        }
    }

    /**
     * The guard: on generated traffic (conversations taking turns, documents asked
     * questions in random order, mixed), at 10 to 75% of the distinct chunks, adaptive never
     * serves half a point of the prompt tokens less than LRU.
     */
    @Test
    void adaptive_neverLosesHalfAPointToLru_onGeneratedTraffic() {
        for (long seed = 1; seed <= 36; seed++) {
            Random rnd = new Random(seed);
            ChunkedTrace t = prompts(generated(rnd, (int) (seed % 3)).toArray(new int[0][]));
            long promptChunks = 0;
            for (int[] keys : t.keys) {
                promptChunks += keys.length;
            }
            for (int percent : new int[]{10, 25, 50, 75}) {
                int capacity = Math.max(1, t.chunks() * percent / 100);
                long lru = hits(t, "lru", capacity);
                long adaptive = hits(t, "adaptive", capacity);
                assertTrue(adaptive - lru >= -0.005 * promptChunks, "seed " + seed + " at " + percent + "%: adaptive "
                        + adaptive + " vs lru " + lru + " of " + promptChunks + " chunks");
            }
        }
    }

    /** Kind 0: conversations taking turns; 1: documents asked questions; 2: both at once. */
    private static List<int[]> generated(Random rnd, int kind) {
        int[] next = {1};
        List<List<Integer>> chats = new ArrayList<>();
        for (int c = 0; c < 8 + rnd.nextInt(24); c++) {
            List<Integer> h = new ArrayList<>(List.of(0));
            for (int b = 0; b < 1 + rnd.nextInt(6); b++) {
                h.add(next[0]++);
            }
            chats.add(h);
        }
        List<int[]> docs = new ArrayList<>();
        for (int d = 0; d < 4 + rnd.nextInt(12); d++) {
            int[] doc = new int[1 + 8 + rnd.nextInt(24)];
            for (int b = 1; b < doc.length; b++) {
                doc[b] = next[0]++;
            }
            docs.add(doc);
        }
        List<int[]> prompts = new ArrayList<>();
        for (int r = 0; r < 150 + rnd.nextInt(250); r++) {
            boolean chat = kind == 0 || kind == 2 && rnd.nextBoolean();
            if (chat) {
                List<Integer> h = chats.get(rnd.nextInt(chats.size()));
                for (int b = 0; b < 1 + rnd.nextInt(3); b++) {
                    h.add(next[0]++);
                }
                prompts.add(h.stream().mapToInt(Integer::intValue).toArray());
            } else {
                int[] doc = docs.get(rnd.nextInt(docs.size()));
                int[] q = java.util.Arrays.copyOf(doc, doc.length + 1);
                q[doc.length] = next[0]++; // the question: its own chunk
                prompts.add(q);
            }
        }
        return prompts;
    }

    @Test
    void infinite_hitsEveryChunkSeenBefore_inTheLeadingRun() {
        ChunkedTrace t = prompts(new int[]{0, 1}, new int[]{0, 2}, new int[]{3, 1});
        assertEquals(1, Simulation.infiniteHitTokens(t) / 256, "chunk 1 after a new chunk 3 is no hit");
    }
}
