package org.lmcache4j.server;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.lmcache4j.EngineStats;
import org.lmcache4j.KeyScope;
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
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** {@link EngineServer} over its real socket, with {@link ServerClient}s that copy in their own memory. */
class ServerTest {
    static final KvLayout LAYOUT = new KvLayout(2, 2, 8, KvDtype.BFLOAT16, 16, 512, KvFormat.FLASH_ATTN);
    static final String SETTINGS = "{\"chunk_size\": 16, \"max_local_cpu_size\": 0.01}";

    @TempDir
    Path tmp;
    Path socket;
    EngineServer server;
    final List<AutoCloseable> open = new ArrayList<>();

    @BeforeEach
    void start() throws IOException {
        socket = privateSocket(tmp);
        server = EngineServer.start(socket, null, Map.of(), new MetricsRegistry(), Duration.ofSeconds(5));
    }

    @AfterEach
    void stop() throws Exception {
        for (AutoCloseable c : open.reversed()) {
            c.close();
        }
        server.close();
        assertFalse(Files.exists(socket), "the socket is removed when the server stops");
    }

    /** A socket's path in a new directory under {@code tmp} that only its owner may enter (mode 0700). */
    static Path privateSocket(Path tmp) throws IOException {
        return Files.createDirectory(tmp.resolve("run"), PosixFilePermissions.asFileAttribute(
                PosixFilePermissions.fromString("rwx------"))).resolve("engine.sock");
    }

    /** A client with caches of {@code layout} filled from {@code seed}. */
    Client client(KvLayout layout, long seed) throws IOException {
        return client(socket, layout, seed, SETTINGS, open);
    }

    static Client client(Path socket, KvLayout layout, long seed, String settings, List<AutoCloseable> open)
            throws IOException {
        TestCaches caches = new TestCaches(layout);
        open.add(caches);
        caches.fillRandom(seed);
        ServerClient c = ServerClient.connect(socket, "m", layout, settings);
        open.add(c);
        c.registerKvCaches(caches.layers);
        return new Client(c, caches);
    }

    record Client(ServerClient server, TestCaches caches) {
    }

    @Test
    void welcome_givesPageBytesAndChunkSize_andThePeersUidIsRead() throws IOException {
        ServerClient c = client(LAYOUT, 1).server();
        assertEquals(16, c.chunkSize());
        assertEquals(LAYOUT.chunkBytes(16), c.pageBytes());
        assertEquals(UnixSockets.require().effectiveUid(), UnixSockets.require().peer(c.channel().fd()).uid(),
                "the peer's uid is read from the socket (the server compares it with its own)");
    }

    @Test
    void anotherVersion_isRefusedNamingBoth() {
        UnsupportedOperationException e = assertThrows(UnsupportedOperationException.class,
                () -> ServerClient.connect(socket, 99, "m", LAYOUT, SETTINGS));
        assertTrue(e.getMessage().contains("version 99") && e.getMessage().contains("version " + WireProtocol.VERSION),
                e.getMessage());
    }

    @Test
    void aHelloThatBreaksTheProtocol_isAnsweredAndClosed() throws IOException {
        UnixSockets sockets = UnixSockets.require();
        for (WireWriter hello : List.of(new WireWriter(WireProtocol.HELLO).i32(WireProtocol.MAGIC).i32(WireProtocol.VERSION).i32(7),
                new WireWriter(WireProtocol.HELLO).i32(0x12345678).i32(1), new WireWriter(WireProtocol.LOOKUP))) {
            try (WireChannel raw = new WireChannel(sockets, sockets.connect(socket))) {
                raw.write(hello);
                WireChannel.Message m = raw.read();
                assertEquals(WireProtocol.ERROR, m.type());
                WireReader r = m.reader("ERROR");
                assertEquals(7, r.i32(), "LMCACHE4J_ERR_INTERNAL: the client does not speak the protocol");
                String why = r.string();
                assertTrue(why.contains("ends") || why.contains("magic") || why.contains("HELLO"), why);
                assertThrows(java.io.EOFException.class, raw::read, "then the server closes");
            }
        }
        assertNull(server.engine(), "nothing was opened");
    }

    @Test
    void anotherLayoutModelOrSetting_isRefused_otherBlockCountsAreWelcome() throws IOException {
        ServerClient first = client(LAYOUT, 1).server();
        ServerClient moreBlocks = client(new KvLayout(2, 2, 8, KvDtype.BFLOAT16, 16, 2048, KvFormat.FLASH_ATTN), 2).server();
        String why = assertThrows(IllegalArgumentException.class, () -> ServerClient.connect(socket, "m",
                new KvLayout(2, 4, 8, KvDtype.BFLOAT16, 16, 512, KvFormat.FLASH_ATTN), SETTINGS)).getMessage();
        assertTrue(why.contains("num_kv_heads 4 (the server's engine has 2)"), why);
        why = assertThrows(IllegalArgumentException.class, () -> ServerClient.connect(socket, "other", LAYOUT, SETTINGS))
                .getMessage();
        assertTrue(why.contains("model other (the server's engine has m)"), why);
        why = assertThrows(IllegalArgumentException.class, () -> ServerClient.connect(socket, "m", LAYOUT,
                "{\"chunk_size\": 32, \"max_local_cpu_size\": 0.01}")).getMessage();
        assertTrue(why.contains("chunk_size 32 (the server's engine has 16)"), why);
        assertEquals(0, first.lookup(KeyScope.NONE, new int[] {1, 2, 3}, null), "the first client is unaffected");
        assertEquals(0, moreBlocks.lookup(KeyScope.NONE, new int[] {1, 2, 3}, null), "a client with more blocks is served");
        client(socket, LAYOUT, 3, "{\"chunk_size\": 16, \"max_local_cpu_size\": 0.01, \"lmcache4j.server\":"
                + " \"unix:///x.sock\"}", open); // the client's own key lmcache4j.server changes nothing here
    }

    @Test
    void storeAndRetrieve_copyThroughSharedPages_betweenTwoClients() throws IOException {
        Random rnd = new Random(7);
        int[] tokens = TestCaches.randomTokens(100, rnd);
        Client a = client(LAYOUT, 3);
        Client b = client(new KvLayout(2, 2, 8, KvDtype.BFLOAT16, 16, 64, KvFormat.FLASH_ATTN), 4);
        KeyScope scope = KeyScope.ofSalt("tenant");
        long[] slotsA = TestCaches.randomSlots(LAYOUT, 100, rnd);
        assertEquals(100, a.server().store(scope, tokens, slotsA, 0));
        assertEquals(0, a.server().store(scope, tokens, slotsA, 0), "stored chunks are skipped");
        assertEquals(0, b.server().lookup(KeyScope.NONE, tokens, null), "another scope sees nothing");
        assertEquals(100, b.server().lookup(scope, tokens, "req-1"), "a's chunks are b's hits");
        assertEquals(7, server.engine().stats().pins(), "b's lookup pinned 7 chunks");
        long[] slotsB = TestCaches.randomSlots(b.caches().layout, 100, rnd);
        assertEquals(100, b.server().retrieve(scope, tokens, slotsB, 0));
        assertArrayEquals(a.caches().rows(slotsA, 0, 100), b.caches().rows(slotsB, 0, 100), "the bytes b loaded are a's");
        assertEquals(7, b.server().unpin("req-1"));
        EngineStats s = server.engine().stats();
        assertEquals(0, s.leases());
        assertEquals(0, s.pins());
        long[] stats = a.server().stats();
        assertEquals(20, stats.length);
        assertEquals(7, stats[0], "chunks: 100 tokens in chunks of 16");
    }

    @Test
    void pins_belongToTheirConnection_andGoWithIt() throws IOException {
        int[] tokens = TestCaches.randomTokens(64, new Random(1));
        Client a = client(LAYOUT, 1);
        Client b = client(LAYOUT, 2);
        a.server().store(KeyScope.NONE, tokens, TestCaches.randomSlots(LAYOUT, 64, new Random(2)), 0);
        assertEquals(64, a.server().lookup(KeyScope.NONE, tokens, "r"));
        assertEquals(4, server.engine().stats().pins());
        assertEquals(0, b.server().unpin("r"), "b cannot unpin a's request");
        assertEquals(64, b.server().lookup(KeyScope.NONE, tokens, "r"));
        assertEquals(8, server.engine().stats().pins(), "b's request r is another request");
        assertThrows(IllegalArgumentException.class, () -> b.server().unpin(""));
        a.server().close();
        b.server().close();
        awaitPins(0);
    }

    @Test
    void connectionDroppedMidCopy_publishesNothing_andLeaksNothing() throws IOException {
        int[] tokens = TestCaches.randomTokens(80, new Random(4));
        long[] slots = TestCaches.randomSlots(LAYOUT, 80, new Random(5));
        ServerClient a = client(LAYOUT, 1).server();
        a.lookup(KeyScope.NONE, tokens, "pinned-before");
        assertNull(a.copying(WireProtocol.STORE, KeyScope.NONE, tokens, slots, 0, (c, ops) -> {
            assertEquals(5, ops.size());
            c.page(ops.getFirst()).asSlice(0, 64).fill((byte) 7); // half a chunk written, then the client dies
            c.channel().shutdown();
            return null;
        }));
        awaitPins(0);
        ServerClient b = client(LAYOUT, 2).server();
        assertEquals(0, b.lookup(KeyScope.NONE, tokens, null), "nothing of the dropped store is served");
        EngineStats s = server.engine().stats();
        assertEquals(0, s.chunks());
        assertEquals(0, s.pagesInUse());
        assertEquals(0, s.leases());
        assertEquals(0, s.pins());
    }

    @Test
    void failedCopy_isTheRequestsError_andPublishesNothing() throws IOException {
        int[] tokens = TestCaches.randomTokens(32, new Random(4));
        ServerClient a = client(LAYOUT, 1).server();
        ServerRefusal e = assertThrows(ServerRefusal.class, () -> a.copying(WireProtocol.STORE, KeyScope.NONE, tokens,
                TestCaches.randomSlots(LAYOUT, 32, new Random(5)), 0,
                (c, ops) -> new WireWriter(WireProtocol.COPY_DONE).i32(2).string("device fault")));
        assertEquals(2, e.status());
        assertTrue(e.getMessage().contains("device fault"), e.getMessage());
        assertEquals(0, a.lookup(KeyScope.NONE, tokens, null));
        assertEquals(0, server.engine().stats().pagesInUse());
        assertEquals(0, server.engine().stats().leases());
    }

    @Test
    void badRequests_areRefusedAndChangeNothing() throws IOException {
        ServerClient a = client(LAYOUT, 1).server();
        assertThrows(IllegalArgumentException.class, () -> a.call(WireProtocol.STORE,
                w -> w.string(null).string(null).i64(0).ints(new int[4]).longs(new long[3]), null));
        assertThrows(IllegalArgumentException.class, () -> a.store(KeyScope.NONE, new int[2], new long[] {0, 1L << 20}, 0),
                "a slot beyond the client's own caches is refused before anything is sent");
        UnsupportedOperationException later = assertThrows(UnsupportedOperationException.class,
                () -> a.call(49, w -> { }, null)); // kept for later versions
        assertTrue(later.getMessage().contains("message type 49"), later.getMessage());
        assertEquals(0, a.lookup(KeyScope.NONE, new int[] {1}, null), "the connection still serves");
        assertEquals(0, server.engine().stats().chunks());
        String config = a.configJson();
        assertTrue(config.matches("(?s).*\"chunk_size\": ?16\\b.*"), config);
        assertTrue(a.metricsText().contains("lmcache:num_requested_tokens_total"), "LMCache's metric names");
    }

    void awaitPins(long pins) {
        long deadline = System.nanoTime() + Duration.ofSeconds(5).toNanos();
        while (server.engine().stats().pins() != pins && System.nanoTime() < deadline) {
            Thread.onSpinWait();
        }
        assertEquals(pins, server.engine().stats().pins(), "the connection's pins are released when it ends");
    }
}
