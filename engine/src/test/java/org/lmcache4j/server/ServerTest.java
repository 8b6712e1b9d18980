package org.lmcache4j.server;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.lmcache4j.EngineStats;
import org.lmcache4j.KvDtype;
import org.lmcache4j.KvFormat;
import org.lmcache4j.KvLayout;
import org.lmcache4j.TestCaches;
import org.lmcache4j.memory.UnixSockets;
import org.lmcache4j.metrics.MetricsRegistry;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.Map;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** {@link EngineServer} over its real socket, with {@link WireTestClient}s that copy in their own memory. */
class ServerTest {
    static final KvLayout LAYOUT = new KvLayout(2, 2, 8, KvDtype.BFLOAT16, 16, 512, KvFormat.FLASH_ATTN);
    static final String SETTINGS = "{\"chunk_size\": 16, \"max_local_cpu_size\": 0.01}";

    @TempDir
    Path tmp;
    Path socket;
    EngineServer server;

    @BeforeEach
    void start() throws IOException {
        Path dir = Files.createDirectory(tmp.resolve("run"), PosixFilePermissions.asFileAttribute(
                PosixFilePermissions.fromString("rwx------")));
        socket = dir.resolve("engine.sock");
        server = EngineServer.start(socket, null, Map.of(), new MetricsRegistry(), Duration.ofSeconds(5));
    }

    @AfterEach
    void stop() {
        server.close();
        assertFalse(Files.exists(socket), "the socket is removed when the server stops");
    }

    WireTestClient client(KvLayout layout) throws IOException {
        WireTestClient c = WireTestClient.connect(socket);
        WireChannel.Message m = c.hello(WireProtocol.VERSION, "m", new TestCaches(layout), SETTINGS);
        assertEquals(WireProtocol.WELCOME, m.type(), () -> "refused: " + refusal(m));
        return c;
    }

    static String refusal(WireChannel.Message m) {
        WireReader r = m.reader("ERROR");
        return "status " + r.i32() + ": " + r.string();
    }

    @Test
    void welcome_givesPageBytesAndChunkSize() throws IOException {
        try (WireTestClient c = client(LAYOUT)) {
            assertEquals(16, c.chunkSize);
            assertEquals(LAYOUT.chunkBytes(16), c.pageBytes);
            assertEquals(UnixSockets.require().effectiveUid(), UnixSockets.require().peer(c.channel.fd()).uid(),
                    "the peer's uid is read from the socket (the server compares it with its own)");
        }
    }

    @Test
    void anotherVersion_isRefusedNamingBoth() throws IOException {
        try (WireTestClient c = WireTestClient.connect(socket)) {
            WireChannel.Message m = c.hello(99, "m", new TestCaches(LAYOUT), SETTINGS);
            assertEquals(WireProtocol.ERROR, m.type());
            String why = refusal(m);
            assertTrue(why.startsWith("status 6:") && why.contains("version 99") && why.contains("version 1"), why);
        }
    }

    @Test
    void anotherLayoutOrModel_isRefused_otherBlockCountsAreWelcome() throws IOException {
        try (WireTestClient first = client(LAYOUT);
             WireTestClient moreBlocks = client(new KvLayout(2, 2, 8, KvDtype.BFLOAT16, 16, 2048, KvFormat.FLASH_ATTN));
             WireTestClient heads = WireTestClient.connect(socket);
             WireTestClient model = WireTestClient.connect(socket);
             WireTestClient settings = WireTestClient.connect(socket)) {
            String why = refusal(heads.hello(1, "m", new TestCaches(new KvLayout(2, 4, 8, KvDtype.BFLOAT16, 16, 512,
                    KvFormat.FLASH_ATTN)), SETTINGS));
            assertTrue(why.startsWith("status 1:") && why.contains("num_kv_heads 4 (the server's engine has 2)"), why);
            why = refusal(model.hello(1, "other", new TestCaches(LAYOUT), SETTINGS));
            assertTrue(why.contains("model other (the server's engine has m)"), why);
            why = refusal(settings.hello(1, "m", new TestCaches(LAYOUT), "{\"chunk_size\": 32, \"max_local_cpu_size\": 0.01}"));
            assertTrue(why.contains("chunk_size 32 (the server's engine has 16)"), why);
            assertEquals(0, first.lookup(new int[] {1, 2, 3}, null), "the first client is unaffected");
            assertEquals(0, moreBlocks.lookup(new int[] {1, 2, 3}, null), "a client with more blocks is served");
            try (WireTestClient sameWithServerKey = WireTestClient.connect(socket)) {
                WireChannel.Message m = sameWithServerKey.hello(1, "m", new TestCaches(LAYOUT),
                        "{\"chunk_size\": 16, \"max_local_cpu_size\": 0.01, \"lmcache4j.server\": \"unix:///x.sock\"}");
                assertEquals(WireProtocol.WELCOME, m.type(), "the client's own key lmcache4j.server changes nothing here");
            }
        }
    }

    @Test
    void storeAndRetrieve_copyThroughSharedPages_betweenTwoClients() throws IOException {
        Random rnd = new Random(7);
        int[] tokens = TestCaches.randomTokens(100, rnd);
        try (WireTestClient a = client(LAYOUT);
             WireTestClient b = client(new KvLayout(2, 2, 8, KvDtype.BFLOAT16, 16, 64, KvFormat.FLASH_ATTN))) {
            a.caches.fillRandom(3);
            long[] slotsA = TestCaches.randomSlots(a.caches.layout, 100, rnd);
            assertEquals(100, a.store(tokens, slotsA));
            assertEquals(0, a.store(tokens, slotsA), "stored chunks are skipped");
            assertEquals(100, b.lookup(tokens, "req-1"), "a's chunks are b's hits");
            long[] slotsB = TestCaches.randomSlots(b.caches.layout, 100, rnd);
            assertEquals(100, b.retrieve(tokens, slotsB));
            assertArrayEquals(a.caches.rows(slotsA, 0, 100), b.caches.rows(slotsB, 0, 100), "the bytes b loaded are a's");
            EngineStats s = server.engine().stats();
            assertEquals(1, s.pins() > 0 ? 1 : 0, "b's lookup pinned");
            assertEquals(0, b.call(WireProtocol.UNPIN, w -> w.string("req-1"), null)[0] == 0 ? 1 : 0);
            assertEquals(0, server.engine().stats().leases());
            assertEquals(0, server.engine().stats().pins());
            long[] stats = a.stats();
            assertEquals(20, stats.length);
            assertEquals(7, stats[0], "chunks: 100 tokens in chunks of 16");
        }
    }

    @Test
    void pins_belongToTheirConnection_andGoWithIt() throws IOException {
        int[] tokens = TestCaches.randomTokens(64, new Random(1));
        try (WireTestClient a = client(LAYOUT); WireTestClient b = client(LAYOUT)) {
            a.caches.fillRandom(1);
            a.store(tokens, TestCaches.randomSlots(LAYOUT, 64, new Random(2)));
            assertEquals(64, a.lookup(tokens, "r"));
            assertEquals(4, server.engine().stats().pins());
            assertEquals(0, b.call(WireProtocol.UNPIN, w -> w.string("r"), null)[0], "b cannot unpin a's request");
            assertEquals(64, b.lookup(tokens, "r"));
            assertEquals(8, server.engine().stats().pins(), "b's request r is another request");
            WireTestClient.Refused empty = assertThrows(WireTestClient.Refused.class,
                    () -> b.call(WireProtocol.UNPIN, w -> w.string(""), null));
            assertEquals(1, empty.status);
        }
        awaitPins(0);
    }

    @Test
    void connectionDroppedMidCopy_publishesNothing_andLeaksNothing() throws IOException {
        int[] tokens = TestCaches.randomTokens(80, new Random(4));
        long[] slots = TestCaches.randomSlots(LAYOUT, 80, new Random(5));
        try (WireTestClient a = client(LAYOUT)) {
            a.lookup(tokens, "pinned-before");
            long got = a.copying(WireProtocol.STORE, tokens, slots, (c, ops) -> {
                assertEquals(5, ops.length);
                // write half a chunk into the first page, then die without COPY_DONE
                c.slabs.get((int) ops[0][4]).asSlice(ops[0][5], 64).fill((byte) 7);
                c.channel.shutdown();
                return null;
            });
            assertEquals(-1, got);
        }
        awaitPins(0);
        try (WireTestClient b = client(LAYOUT)) {
            assertEquals(0, b.lookup(tokens, null), "nothing of the dropped store is served");
            EngineStats s = server.engine().stats();
            assertEquals(0, s.chunks());
            assertEquals(0, s.pagesInUse());
            assertEquals(0, s.leases());
            assertEquals(0, s.pins());
        }
    }

    @Test
    void failedCopy_isTheRequestsError_andPublishesNothing() throws IOException {
        int[] tokens = TestCaches.randomTokens(32, new Random(4));
        try (WireTestClient a = client(LAYOUT)) {
            WireTestClient.Refused e = assertThrows(WireTestClient.Refused.class, () -> a.copying(WireProtocol.STORE,
                    tokens, TestCaches.randomSlots(LAYOUT, 32, new Random(5)),
                    (c, ops) -> new WireWriter(WireProtocol.COPY_DONE).i32(2).string("device fault")));
            assertEquals(2, e.status);
            assertTrue(e.getMessage().contains("device fault"), e.getMessage());
            assertEquals(0, a.lookup(tokens, null));
            assertEquals(0, server.engine().stats().pagesInUse());
            assertEquals(0, server.engine().stats().leases());
        }
    }

    @Test
    void badRequests_areRefusedAndChangeNothing() throws IOException {
        try (WireTestClient a = client(LAYOUT)) {
            WireTestClient.Refused e = assertThrows(WireTestClient.Refused.class, () -> a.call(WireProtocol.STORE,
                    w -> w.string(null).string(null).i64(0).ints(new int[4]).longs(new long[3]), null));
            assertEquals(1, e.status);
            e = assertThrows(WireTestClient.Refused.class, () -> a.call(40, w -> { }, null));
            assertEquals(6, e.status, "a number kept for a later version");
            assertEquals(0, a.lookup(new int[] {1}, null), "the connection still serves");
            String config = a.text(WireProtocol.CONFIG_JSON);
            assertTrue(config.matches("(?s).*\"chunk_size\": ?16\\b.*"), config);
            assertTrue(a.text(WireProtocol.METRICS_TEXT).contains("lmcache"));
            assertEquals(0, server.engine().stats().chunks());
        }
    }

    void awaitPins(long pins) {
        long deadline = System.nanoTime() + Duration.ofSeconds(5).toNanos();
        while (server.engine().stats().pins() != pins && System.nanoTime() < deadline) {
            Thread.onSpinWait();
        }
        assertEquals(pins, server.engine().stats().pins(), "the connection's pins are released when it ends");
    }

}
