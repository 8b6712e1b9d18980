package org.lmcache4j.bridge;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.lmcache4j.CacheEngine;
import org.lmcache4j.EngineConfig;
import org.lmcache4j.KeyScope;
import org.lmcache4j.KvDtype;
import org.lmcache4j.KvFormat;
import org.lmcache4j.KvLayout;
import org.lmcache4j.TestCaches;
import org.lmcache4j.metrics.MetricsRegistry;

import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The lookup socket: answers, pins, refuses strangers' directories and bad frames. */
class LookupServerTest {
    private static final KvLayout LAYOUT = new KvLayout(2, 1, 16, KvDtype.FLOAT16, 16, 64, KvFormat.FLASH_ATTN);

    @TempDir
    Path tmp;
    private Path dir;
    private TestCaches caches;
    private CacheEngine engine;

    @BeforeEach
    void engine() throws IOException {
        dir = Files.createDirectory(tmp.resolve("sockets"), PosixFilePermissions.asFileAttribute(
                PosixFilePermissions.fromString("rwx------")));
        caches = new TestCaches(LAYOUT);
        engine = CacheEngine.builder().layout(LAYOUT).config(EngineConfig.builder().chunkSize(32)
                .maxLocalCpuSizeGb(0.001).build()).open();
        engine.registerKvCaches(caches.addresses());
    }

    @AfterEach
    void close() {
        engine.close();
        caches.close();
    }

    @Test
    void lookups_pinsAndConfig_overTheSocket() throws IOException {
        int[] tokens = TestCaches.randomTokens(100, new Random(1));
        engine.store(KeyScope.ofSalt("s"), tokens, TestCaches.randomSlots(LAYOUT, 100, new Random(2)), 0);
        Path socket = dir.resolve("rank0.sock");
        try (LookupServer server = LookupServer.start(engine, socket);
             SocketChannel client = connect(socket)) {
            assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(socket)));
            assertEquals(0, ask(client, 1, "", "", tokens).value, "another scope sees nothing");
            assertEquals(100, ask(client, 1, "s", "", tokens).value);
            assertEquals(100, ask(client, 2, "s", "req", tokens).value);
            assertEquals(4, engine.stats().pins());
            assertEquals(4, ask(client, 3, "", "req", new int[0]).value);
            Reply config = ask(client, 4, "", "", new int[0]);
            assertTrue(config.text.contains("\"chunk_size\": 32"), config.text);
            Reply bad = ask(client, 2, "s", "", tokens);
            assertEquals(NativeStatus.INVALID_ARGUMENT.code, bad.status);
            assertTrue(bad.text.contains("request id"), bad.text);
            assertTrue(server.path().equals(socket));
            server.close();
            assertEquals(-1, client.read(ByteBuffer.allocate(1)), "open connections end with the server");
        }
        assertFalse(Files.exists(socket), "removed on close");
    }

    @Test
    void aBadFrame_getsAnError_andTheConnectionEnds() throws IOException {
        Path socket = dir.resolve("r.sock");
        try (LookupServer ignored = LookupServer.start(engine, socket); SocketChannel client = connect(socket)) {
            ByteBuffer junk = ByteBuffer.allocate(24).order(ByteOrder.LITTLE_ENDIAN).putInt(0x12345678);
            client.write(junk.position(0));
            Reply r = read(client);
            assertEquals(NativeStatus.INVALID_ARGUMENT.code, r.status);
            assertTrue(r.text.contains("bad magic"), r.text);
            assertEquals(-1, client.read(ByteBuffer.allocate(1)), "closed by the server");
        }
    }

    @Test
    void aSaltThatIsNotUtf8_isRefused() throws IOException {
        Path socket = dir.resolve("u.sock");
        try (LookupServer ignored = LookupServer.start(engine, socket); SocketChannel client = connect(socket)) {
            byte[] salt = {(byte) 0xC3, (byte) 0x28}; // an invalid two-byte sequence
            ByteBuffer b = ByteBuffer.allocate(24 + salt.length + 4).order(ByteOrder.LITTLE_ENDIAN);
            b.putInt(LookupProtocol.MAGIC).put((byte) 1).put(new byte[3]).putInt(salt.length).putInt(0).putInt(0)
                    .putInt(1).put(salt).putInt(7).flip();
            while (b.hasRemaining()) {
                client.write(b);
            }
            Reply r = read(client);
            assertEquals(NativeStatus.INVALID_ARGUMENT.code, r.status);
            assertTrue(r.text.contains("UTF-8"), r.text);
        }
    }

    @Test
    void aDirectoryOthersCanEnter_isRefused() throws IOException {
        Path open = Files.createDirectory(tmp.resolve("open"));
        Files.setPosixFilePermissions(open, PosixFilePermissions.fromString("rwxr-xr-x"));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> LookupServer.start(engine, open.resolve("x.sock")));
        assertTrue(e.getMessage().contains("must be private to its owner (mode 0700), it is 0755"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> LookupServer.start(engine, tmp.resolve("missing/x.sock")));
    }

    @Test
    void aStaleSocket_isReplaced_butAFileIsNot() throws IOException {
        Path socket = dir.resolve("stale.sock");
        LookupServer.start(engine, socket).close();
        try (SocketChannel ch = SocketChannel.open(StandardProtocolFamily.UNIX)) {
            ch.bind(UnixDomainSocketAddress.of(socket)); // left behind, as by a killed process
        }
        try (LookupServer s = LookupServer.start(engine, socket); SocketChannel c = connect(socket)) {
            assertEquals(0, ask(c, 1, "", "", new int[] {1, 2}).value);
            assertEquals(socket, s.path());
        }
        Path file = Files.writeString(dir.resolve("file.sock"), "x");
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> LookupServer.start(engine, file));
        assertTrue(e.getMessage().contains("not a socket"), e.getMessage());
    }

    private record Reply(int status, long value, String text) {
    }

    @Test
    void lookupWithPromptCounts_countsThem_andBadCountsAreRefusedWithNothingCounted() throws IOException {
        MetricsRegistry registry = new MetricsRegistry();
        int[] tokens = TestCaches.randomTokens(64, new Random(3));
        Path socket = dir.resolve("counted.sock");
        try (CacheEngine counted = CacheEngine.builder().layout(LAYOUT).metrics(registry)
                .config(EngineConfig.builder().chunkSize(32).maxLocalCpuSizeGb(0.001).build()).open();
             LookupServer server = LookupServer.start(counted, socket);
             SocketChannel client = connect(socket)) {
            assertEquals(0, askCounted(client, tokens, 64, 16).status);
            Reply bad = askCounted(client, tokens, 10, 11);
            assertEquals(NativeStatus.INVALID_ARGUMENT.code, bad.status);
            assertTrue(bad.text.contains("vLLM hit tokens 11"), bad.text);
            assertEquals(0, ask(client, 1, "", "", tokens).status, "the connection still serves plain lookups");
            assertEquals(2, counted.stats().lookupRequests(), "the refused lookup looked nothing up");
            String text = registry.scrape();
            assertTrue(text.contains("lmcache:num_prompt_tokens_total{model_name=\"default\",worker_id=\"0\",role=\"worker\","
                    + "served_model_name=\"\"} 64.0\n"), text);
            assertTrue(text.contains("lmcache:num_vllm_hit_tokens_total{model_name=\"default\",worker_id=\"0\",role=\"worker\","
                    + "served_model_name=\"\"} 16.0\n"), text);
        }
    }

    @Test
    void flagsOrReservedBytesItDoesNotKnow_endTheConnection_andNothingIsLookedUp() throws IOException {
        int[] tokens = TestCaches.randomTokens(64, new Random(4));
        Path socket = dir.resolve("flags.sock");
        try (LookupServer ignored = LookupServer.start(engine, socket)) {
            // an unknown flag bit; a reserved byte that is not zero; the counts flag on an unpin (op 3)
            byte[][] headers = {{1, (byte) 0xFE, 0, 0}, {1, 0, 0, 7}, {3, (byte) LookupProtocol.FLAG_PROMPT_COUNTS, 0, 0}};
            for (byte[] h : headers) {
                try (SocketChannel client = connect(socket)) {
                    ByteBuffer b = ByteBuffer.allocate(32 + 4 * tokens.length).order(ByteOrder.LITTLE_ENDIAN);
                    b.putInt(LookupProtocol.MAGIC).put(h).putInt(0).putInt(0).putInt(0).putInt(tokens.length);
                    if (h[1] != 0) {
                        b.putInt(64).putInt(0);
                    }
                    Reply r = send(client, b, tokens);
                    assertEquals(NativeStatus.INVALID_ARGUMENT.code, r.status, r.text);
                    assertTrue(r.text.contains("flag") || r.text.contains("reserved"), r.text);
                    assertTrue(closedByServer(client), "closed by the server");
                }
            }
            assertEquals(0, engine.stats().lookupRequests(), "nothing was looked up");
        }
    }

    @Test
    void poolTokensFlag_answersTheHitAndItsTokensInThePool_packed() throws IOException {
        int[] tokens = TestCaches.randomTokens(100, new Random(6));
        long[] slots = TestCaches.randomSlots(LAYOUT, 100, new Random(7));
        engine.store(tokens, slots, 0);
        Path socket = dir.resolve("pool.sock");
        try (LookupServer ignored = LookupServer.start(engine, socket); SocketChannel client = connect(socket)) {
            ByteBuffer b = ByteBuffer.allocate(24 + 4 * tokens.length).order(ByteOrder.LITTLE_ENDIAN);
            b.putInt(LookupProtocol.MAGIC).put((byte) 1).put((byte) LookupProtocol.FLAG_POOL_TOKENS).put(new byte[2])
                    .putInt(0).putInt(0).putInt(0).putInt(tokens.length);
            Reply r = send(client, b, tokens);
            assertEquals(0, r.status, r.text);
            assertEquals(100L | 100L << 32, r.value, "a CPU-only engine: the whole hit is in the pool");
            assertEquals(0, ask(client, 1, "", "", tokens).status, "the connection still serves lookups");
        }
    }

    @Test
    void promptCountsOfALookupThatFails_orNegativeCounts_areNotCounted() throws IOException {
        MetricsRegistry registry = new MetricsRegistry();
        int[] tokens = TestCaches.randomTokens(64, new Random(5));
        Path socket = dir.resolve("uncounted.sock");
        try (CacheEngine counted = CacheEngine.builder().layout(LAYOUT).metrics(registry)
                .config(EngineConfig.builder().chunkSize(32).maxLocalCpuSizeGb(0.001).build()).open();
             LookupServer ignored = LookupServer.start(counted, socket);
             SocketChannel client = connect(socket)) {
            for (int[] counts : new int[][] {{-1, -1}, {-7, 0}, {64, -2}}) {
                Reply r = askCounted(client, tokens, counts[0], counts[1]);
                assertEquals(NativeStatus.INVALID_ARGUMENT.code, r.status, "counts " + counts[0] + ", " + counts[1]);
                assertTrue(r.text.contains("prompt tokens " + counts[0]), r.text);
            }
            // a lookup and pin (op 2) without a request id fails: its counts must not count either
            ByteBuffer b = ByteBuffer.allocate(32 + 4 * tokens.length).order(ByteOrder.LITTLE_ENDIAN);
            b.putInt(LookupProtocol.MAGIC).put((byte) 2).put((byte) LookupProtocol.FLAG_PROMPT_COUNTS).put(new byte[2])
                    .putInt(0).putInt(0).putInt(0).putInt(tokens.length).putInt(64).putInt(16);
            Reply failed = send(client, b, tokens);
            assertEquals(NativeStatus.INVALID_ARGUMENT.code, failed.status);
            assertTrue(failed.text.contains("request id"), failed.text);
            assertEquals(0, counted.stats().lookupRequests(), "nothing was looked up");
            String text = registry.scrape();
            assertTrue(text.contains("lmcache:num_prompt_tokens_total{model_name=\"default\",worker_id=\"0\",role=\"worker\","
                    + "served_model_name=\"\"} 0.0\n"), text);
            assertTrue(text.contains("lmcache:num_vllm_hit_tokens_total{model_name=\"default\",worker_id=\"0\",role=\"worker\","
                    + "served_model_name=\"\"} 0.0\n"), text);
            assertEquals(0, ask(client, 1, "", "", tokens).status, "the connection still serves lookups");
        }
    }

    /** A lookup (op 1) with flag bit 0 and the prompt's counts after the header. */
    private static Reply askCounted(SocketChannel ch, int[] tokens, int prompt, int vllmHit) throws IOException {
        ByteBuffer b = ByteBuffer.allocate(32 + 4 * tokens.length).order(ByteOrder.LITTLE_ENDIAN);
        b.putInt(LookupProtocol.MAGIC).put((byte) 1).put((byte) LookupProtocol.FLAG_PROMPT_COUNTS).put(new byte[2])
                .putInt(0).putInt(0).putInt(0).putInt(tokens.length).putInt(prompt).putInt(vllmHit);
        return send(ch, b, tokens);
    }

    /** The server closed the connection: an end of stream, or a reset where it left bytes unread. */
    private static boolean closedByServer(SocketChannel ch) {
        try {
            return ch.read(ByteBuffer.allocate(1)) == -1;
        } catch (IOException e) {
            return true;
        }
    }

    private static SocketChannel connect(Path socket) throws IOException {
        return SocketChannel.open(UnixDomainSocketAddress.of(socket));
    }

    private static Reply ask(SocketChannel ch, int op, String salt, String requestId, int[] tokens) throws IOException {
        byte[] s = salt.getBytes(StandardCharsets.UTF_8);
        byte[] r = requestId.getBytes(StandardCharsets.UTF_8);
        ByteBuffer b = ByteBuffer.allocate(24 + s.length + r.length + 4 * tokens.length).order(ByteOrder.LITTLE_ENDIAN);
        b.putInt(LookupProtocol.MAGIC).put((byte) op).put(new byte[3]).putInt(s.length).putInt(0).putInt(r.length)
                .putInt(tokens.length).put(s).put(r);
        return send(ch, b, tokens);
    }

    /** Appends the tokens to the frame, sends it, and reads the reply. */
    private static Reply send(SocketChannel ch, ByteBuffer b, int[] tokens) throws IOException {
        for (int t : tokens) {
            b.putInt(t);
        }
        b.flip();
        while (b.hasRemaining()) {
            ch.write(b);
        }
        return read(ch);
    }

    private static Reply read(SocketChannel ch) throws IOException {
        ByteBuffer h = ByteBuffer.allocate(16).order(ByteOrder.LITTLE_ENDIAN);
        readFully(ch, h);
        int status = h.getInt();
        int n = h.getInt();
        long value = h.getLong();
        ByteBuffer text = ByteBuffer.allocate(n);
        readFully(ch, text);
        return new Reply(status, value, new String(text.array(), StandardCharsets.UTF_8));
    }

    private static void readFully(SocketChannel ch, ByteBuffer b) throws IOException {
        while (b.hasRemaining()) {
            if (ch.read(b) < 0) {
                throw new IOException("closed");
            }
        }
        b.flip();
    }
}
