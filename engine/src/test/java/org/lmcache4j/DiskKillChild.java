package org.lmcache4j;

import java.nio.file.Path;
import java.util.Map;
import java.util.Random;

/**
 * The child process of {@link DiskFaultTest#sigkillMidSpill_onlyCompleteRecordsAreServed}: stores
 * prompts with write-through into a directory, forever, printing each prompt it stored, until it is
 * killed. Prompts and KV are functions of the seed, so the parent can tell what must be on disk.
 */
public final class DiskKillChild {
    static final int PROMPT_TOKENS = 768;
    static final long SEED = 77;

    private DiskKillChild() {
    }

    public static void main(String[] args) {
        Path dir = Path.of(args[0]);
        EngineConfig cfg = DiskTierEngineTest.config(dir, 64, 4096, Map.of("disk_write_through", true));
        try (TestCaches caches = new TestCaches(EngineFixture.LAYOUT);
             CacheEngine engine = CacheEngine.builder().config(cfg).layout(EngineFixture.LAYOUT).model("test-model").open()) {
            caches.fillRandom(SEED);
            engine.registerKvCaches(caches.addresses());
            Random rnd = new Random(SEED);
            for (int i = 0; ; i++) {
                int[] tokens = TestCaches.randomTokens(PROMPT_TOKENS, rnd);
                long[] slots = TestCaches.randomSlots(EngineFixture.LAYOUT, PROMPT_TOKENS, rnd);
                engine.store(tokens, slots, 0);
                System.out.println("stored " + i);
                System.out.flush();
            }
        }
    }
}
