package org.lmcache4j;

import org.junit.jupiter.api.Test;
import org.lmcache4j.remote.RedisServer;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Two engines in two processes on one Redis: what one stores, the other retrieves byte-exact. */
class RemoteTwoProcessTest {
    @Test
    void chunksStoredByAnotherProcess_loadByteExact() throws Exception {
        RedisServer redis = RedisServer.shared();
        long seed = System.nanoTime();
        int count = 4;
        Process child = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "--enable-native-access=ALL-UNNAMED", "-Xmx256m", "-Djava.io.tmpdir=" + System.getProperty("java.io.tmpdir"),
                "-cp", System.getProperty("java.class.path"),
                RemoteStoreChild.class.getName(), redis.url(), Long.toString(seed), Integer.toString(count))
                .redirectError(ProcessBuilder.Redirect.DISCARD).start();
        String out = new String(child.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertEquals(0, child.waitFor(), out);
        assertTrue(out.contains("stored " + 3 * count), out);

        try (EngineFixture f = new EngineFixture(RemoteTierEngineTest.config(redis.url(), 64));
             TestCaches expected = new TestCaches(EngineFixture.LAYOUT)) {
            expected.fillRandom(seed);
            Random rnd = new Random(seed);
            for (int i = 0; i < count; i++) {
                int[] tokens = TestCaches.randomTokens(RemoteStoreChild.PROMPT_TOKENS, rnd);
                long[] slots = TestCaches.randomSlots(EngineFixture.LAYOUT, RemoteStoreChild.PROMPT_TOKENS, rnd);
                f.caches.zero();
                assertEquals(RemoteStoreChild.PROMPT_TOKENS, f.engine.retrieve(tokens, slots, 0), "prompt " + i);
                assertArrayEquals(expected.rows(slots, 0, RemoteStoreChild.PROMPT_TOKENS),
                        f.caches.rows(slots, 0, RemoteStoreChild.PROMPT_TOKENS), "prompt " + i);
            }
            assertEquals((long) count * RemoteStoreChild.PROMPT_TOKENS, f.engine.stats().remoteHitTokens());
        }
    }
}
