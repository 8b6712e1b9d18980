package org.lmcache4j.server;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.lmcache4j.KeyScope;
import org.lmcache4j.TestCaches;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@code lmcache4j server} as its own process with two engines open (ranks 0 and 1 of one
 * world): SIGTERM closes both, each disk tier writes its records under its own rank's
 * subdirectory, and a server started again serves both ranks from disk, each its own bytes.
 */
class ServerRanksProcessTest {
    @TempDir
    Path tmp;

    @Test
    void sigterm_closesEveryRanksEngine_andARestartedServerServesBothRanksFromDisk() throws Exception {
        Path socket = ServerTest.privateSocket(tmp);
        Path config = ServerProcessTest.diskConfig(tmp); // the node's pool and disk: 0.01 GB each
        Path disk = tmp.resolve("disk");
        int[] tokens = TestCaches.randomTokens(64, new Random(1));
        long[][] slots = {TestCaches.randomSlots(ServerTest.LAYOUT, 64, new Random(2)),
                TestCaches.randomSlots(ServerTest.LAYOUT, 64, new Random(3))};
        byte[][] stored = new byte[2][];

        Path firstLog = tmp.resolve("first.log");
        Process first = ServerProcesses.start(socket, config, firstLog);
        List<AutoCloseable> open = new ArrayList<>();
        try {
            for (int rank = 0; rank < 2; rank++) {
                ServerTest.Client c = ServerRanksTest.worker(socket, "m", 2, rank, 20 + rank, null, open);
                assertEquals(64, c.server().store(KeyScope.NONE, tokens, slots[rank], 0));
                stored[rank] = c.caches().rows(slots[rank], 0, 64);
            }
        } finally {
            ServerProcessTest.closeAll(open);
        }
        assertFalse(Arrays.equals(stored[0], stored[1]), "each rank stored its own shard");
        first.destroy(); // SIGTERM
        assertTrue(first.waitFor(60, TimeUnit.SECONDS), "the server stops on SIGTERM");
        String log = Files.readString(firstLog);
        assertEquals(0, first.exitValue(), log);
        assertFalse(Files.exists(socket), "the socket is removed");
        assertTrue(log.contains("rank 0 of world size 2 opened") && log.contains("rank 1 of world size 2 opened"), log);
        assertTrue(log.contains("connected as rank 1 of world size 2"), log);
        assertTrue(log.contains("LMCache4j server stopped"), log);
        for (int rank = 0; rank < 2; rank++) {
            assertEquals(4, records(disk.resolve("rank-" + rank + "-of-2")), "rank " + rank + "'s 4 records, in its own directory");
        }
        assertEquals(0, records(disk) - 8, "no record outside the ranks' directories");

        Process second = ServerProcesses.start(socket, config, tmp.resolve("second.log"));
        try {
            for (int rank : new int[] {1, 0}) {
                ServerTest.Client c = ServerRanksTest.worker(socket, "m", 2, rank, 30 + rank, null, open);
                assertEquals(64, c.server().lookup(KeyScope.NONE, tokens, null), "rank " + rank + " hits from disk");
                long[] into = TestCaches.randomSlots(ServerTest.LAYOUT, 64, new Random(40 + rank));
                assertEquals(64, c.server().retrieve(KeyScope.NONE, tokens, into, 0));
                assertArrayEquals(stored[rank], c.caches().rows(into, 0, 64), "rank " + rank + "'s own bytes");
            }
        } finally {
            ServerProcessTest.closeAll(open);
            second.destroy();
            assertTrue(second.waitFor(60, TimeUnit.SECONDS));
            assertEquals(0, second.exitValue());
        }
    }

    /** How many disk records lie under {@code dir}, at any depth. */
    private static long records(Path dir) throws IOException {
        try (Stream<Path> s = Files.walk(dir)) {
            return s.filter(p -> p.getFileName().toString().endsWith(".lmc")).count();
        }
    }
}
