package org.lmcache4j;

import java.util.Random;

/**
 * The other process of {@link RemoteTwoProcessTest}: stores {@code count} prompts through a Redis
 * remote tier, waits until every record is written, prints "stored", and exits.
 */
public final class RemoteStoreChild {
    static final int PROMPT_TOKENS = 600;

    private RemoteStoreChild() {
    }

    public static void main(String[] args) {
        String url = args[0];
        long seed = Long.parseLong(args[1]);
        int count = Integer.parseInt(args[2]);
        try (EngineFixture f = new EngineFixture(RemoteTierEngineTest.config(url, 64))) {
            f.caches.fillRandom(seed);
            Random rnd = new Random(seed);
            for (int i = 0; i < count; i++) {
                f.engine.store(TestCaches.randomTokens(PROMPT_TOKENS, rnd),
                        TestCaches.randomSlots(EngineFixture.LAYOUT, PROMPT_TOKENS, rnd), 0);
            }
            RemoteTierEngineTest.awaitWrites(f, 3L * count);
            System.out.println("stored " + f.engine.stats().remote().writes());
        }
    }
}
