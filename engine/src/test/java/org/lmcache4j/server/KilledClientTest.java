package org.lmcache4j.server;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.lmcache4j.KvLayout;
import org.lmcache4j.metrics.MetricsRegistry;
import org.lmcache4j.EngineStats;
import org.lmcache4j.KeyScope;
import org.lmcache4j.TestCaches;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.time.Duration;
import java.util.Random;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * kill -9 of a client process in the middle of its store's COPY: the server releases its pins and
 * the store's leases, publishes nothing of it (the half-written page is never served), and the
 * next client stores the same prompt whole.
 */
class KilledClientTest {
    static final int[] PINNED = TestCaches.randomTokens(48, new Random(11));
    static final int[] STORED = TestCaches.randomTokens(80, new Random(12));
    private static final KvLayout LAYOUT = ServerTest.LAYOUT;

    @TempDir
    Path tmp;

    @Test
    void killedMidCopy_releasesPinsAndLeases_andServesNothingHalfWritten() throws Exception {
        Path socket = ServerTest.privateSocket(tmp);
        List<AutoCloseable> open = new ArrayList<>();
        try (EngineServer server = EngineServer.start(socket, null, Map.of(), new MetricsRegistry(), Duration.ofSeconds(5))) {
            ServerTest.Client first = ServerTest.client(socket, LAYOUT, 1, ServerTest.SETTINGS, open);
            killedMidCopy(server, socket, first.server());
        } finally {
            for (AutoCloseable c : open.reversed()) {
                c.close();
            }
        }
    }

    private static void killedMidCopy(EngineServer server, Path socket, ServerClient first) throws Exception {
        first.store(KeyScope.NONE, PINNED, TestCaches.randomSlots(LAYOUT, 48, new Random(3)), 0);
        Process child = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "--enable-native-access=ALL-UNNAMED", "-Xmx256m", "-cp", System.getProperty("java.class.path"),
                KilledClientChild.class.getName(), socket.toString())
                .redirectError(ProcessBuilder.Redirect.DISCARD).start();
        try (BufferedReader out = new BufferedReader(new InputStreamReader(child.getInputStream(), StandardCharsets.UTF_8))) {
            assertEquals("copying", out.readLine(), "the child reached the middle of its copy");
            EngineStats during = server.engine().stats();
            assertEquals(3, during.pins(), "the child pinned the 3 chunks of its lookup");
            assertEquals(3 + 5, during.leases(), "a lease for each pin, and one on each of the store's 5 pages");
            child.destroyForcibly(); // SIGKILL
            assertTrue(child.waitFor(30, TimeUnit.SECONDS));
        }
        long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
        while ((server.engine().stats().leases() != 0 || server.engine().stats().pins() != 0)
                && System.nanoTime() < deadline) {
            Thread.sleep(10);
        }
        EngineStats after = server.engine().stats();
        assertEquals(0, after.leases());
        assertEquals(0, after.pins());
        assertEquals(3, after.chunks(), "only the first client's chunks");
        assertEquals(0, first.lookup(KeyScope.NONE, STORED, null), "nothing of the killed store is served");
        long[] slots = TestCaches.randomSlots(LAYOUT, 80, new Random(4));
        assertEquals(80, first.store(KeyScope.NONE, STORED, slots, 0), "stored whole by the next client");
        assertEquals(80, first.lookup(KeyScope.NONE, STORED, null));
    }
}
