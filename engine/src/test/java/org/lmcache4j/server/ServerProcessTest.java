package org.lmcache4j.server;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.lmcache4j.KeyScope;
import org.lmcache4j.TestCaches;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Random;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@code lmcache4j server} as its own process (the CLI's main, as {@code ./lmcache4j server} runs
 * it): SIGTERM stops it cleanly (exit 0, socket removed, the disk tier written), and a server
 * started again on the same disk serves what the first stored.
 */
class ServerProcessTest {
    @TempDir
    Path tmp;

    @Test
    void sigterm_exitsZero_removesTheSocket_andTheDiskTierServesAfterARestart() throws Exception {
        Path socket = ServerTest.privateSocket(tmp);
        Path config = diskConfig(tmp);
        int[] tokens = TestCaches.randomTokens(64, new Random(1));
        long[] slots = TestCaches.randomSlots(ServerTest.LAYOUT, 64, new Random(2));
        byte[] stored;

        Path firstLog = tmp.resolve("first.log");
        Process first = ServerProcesses.start(socket, config, firstLog);
        List<AutoCloseable> open = new ArrayList<>();
        try {
            ServerTest.Client a = ServerTest.client(socket, ServerTest.LAYOUT, 9, null, open);
            assertEquals(64, a.server().store(KeyScope.NONE, tokens, slots, 0));
            stored = a.caches().rows(slots, 0, 64);
        } finally {
            closeAll(open);
        }
        first.destroy(); // SIGTERM
        assertTrue(first.waitFor(60, TimeUnit.SECONDS), "the server stops on SIGTERM");
        String log = Files.readString(firstLog);
        assertEquals(0, first.exitValue(), log);
        assertFalse(Files.exists(socket), "the socket is removed");
        assertTrue(log.contains("connected") && log.contains("gone") && log.contains("LMCache4j server stopped"), log);

        Process second = ServerProcesses.start(socket, config, tmp.resolve("second.log"));
        try {
            ServerTest.Client b = ServerTest.client(socket, ServerTest.LAYOUT, 10, null, open);
            assertEquals(64, b.server().lookup(KeyScope.NONE, tokens, null), "the chunks came back from the disk tier");
            long[] slotsB = TestCaches.randomSlots(ServerTest.LAYOUT, 64, new Random(3));
            assertEquals(64, b.server().retrieve(KeyScope.NONE, tokens, slotsB, 0));
            assertArrayEquals(stored, b.caches().rows(slotsB, 0, 64), "byte for byte what the first server stored");
        } finally {
            closeAll(open);
            second.destroy();
            assertTrue(second.waitFor(60, TimeUnit.SECONDS));
            assertEquals(0, second.exitValue());
        }
    }

    /** A configuration file in {@code tmp}: chunks of 16 tokens, a pool and a disk tier ({@code tmp/disk}) of 0.01 GB each. */
    static Path diskConfig(Path tmp) throws IOException {
        Path config = tmp.resolve("lmcache.yaml");
        Files.writeString(config, "chunk_size: 16\nmax_local_cpu_size: 0.01\nlocal_disk: \"file://"
                + tmp.resolve("disk") + "/\"\nmax_local_disk_size: 0.01\n");
        return config;
    }

    static void closeAll(List<AutoCloseable> open) throws Exception {
        for (AutoCloseable c : open.reversed()) {
            c.close();
        }
        open.clear();
    }
}
