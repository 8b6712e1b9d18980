package org.lmcache4j.bridge;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.lmcache4j.KvDtype;
import org.lmcache4j.KvFormat;
import org.lmcache4j.KvLayout;
import org.lmcache4j.TestCaches;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The JNI entry points, called as the C side calls them: addresses, lengths, status codes. */
class NativeBridgeTest {
    private static final KvLayout LAYOUT = new KvLayout(2, 2, 8, KvDtype.BFLOAT16, 16, 256, KvFormat.BLOCKS_FIRST);
    private static final String SETTINGS = "{\"chunk_size\": 64, \"max_local_cpu_size\": 0.01}";

    private final Random rnd = new Random(11);
    private NativeArgs args;
    private TestCaches caches;
    private long handle;

    @BeforeEach
    void open() {
        args = new NativeArgs();
        caches = new TestCaches(LAYOUT);
        caches.fillRandom(5);
        handle = open(SETTINGS, "bfloat16", "blocks_first");
        assertTrue(handle > 0, () -> "open failed: " + args.takeError());
    }

    @AfterEach
    void close() {
        if (NativeBridge.handles().isOpen(handle)) {
            assertEquals(0, NativeBridge.close(handle));
        }
        caches.close();
        args.close();
    }

    @Test
    void storeThenRetrieve_throughAddresses_isByteExact() {
        register();
        int[] tokens = TestCaches.randomTokens(300, rnd);
        long[] slots = TestCaches.randomSlots(LAYOUT, 300, rnd);
        byte[] stored = caches.rows(slots, 0, 300);
        long t = args.ints(tokens);
        long s = args.longs(slots);
        assertEquals(300, NativeBridge.store(handle, 0, 0, 0, 0, t, s, 300, 0, 0));
        assertEquals(300, NativeBridge.lookup(handle, 0, 0, 0, 0, t, 300, 0, 0));
        caches.zero();
        assertEquals(300, NativeBridge.retrieve(handle, 0, 0, 0, 0, t, s, 300, 0, 0));
        assertArrayEquals(stored, caches.rows(slots, 0, 300));
        assertEquals(236, NativeBridge.retrieve(handle, 0, 0, 0, 0, t, s, 300, 64, 0), "skip_leading");
    }

    @Test
    void scopes_separateCaches_andPinsRelease() {
        register();
        int[] tokens = TestCaches.randomTokens(128, rnd);
        long t = args.ints(tokens);
        long s = args.longs(TestCaches.randomSlots(LAYOUT, 128, rnd));
        long salt = args.str("tenant-a");
        assertEquals(128, NativeBridge.store(handle, salt, 8, 0, 0, t, s, 128, 0, 0));
        assertEquals(0, NativeBridge.lookup(handle, 0, 0, 0, 0, t, 128, 0, 0), "no scope sees tenant-a");
        assertEquals(0, NativeBridge.lookup(handle, salt, 8, args.str("lora"), 4, t, 128, 0, 0), "adapter differs");
        long req = args.str("req-1");
        assertEquals(128, NativeBridge.lookup(handle, salt, 8, 0, 0, t, 128, req, 5));
        assertEquals(2, statsField(7), "pins");
        assertEquals(2, NativeBridge.unpin(handle, req, 5));
        assertEquals(0, statsField(7));
    }

    @Test
    void badArguments_giveStatusAndMessage() {
        register();
        long t = args.ints(new int[] {1, 2, 3});
        assertStatus(NativeStatus.INVALID_ARGUMENT, "tokens is NULL", NativeBridge.lookup(handle, 0, 0, 0, 0, 0, 3, 0, 0));
        assertStatus(NativeStatus.INVALID_ARGUMENT, "slot_mapping[0] = 99999",
                NativeBridge.store(handle, 0, 0, 0, 0, t, args.longs(new long[] {99999, 0, 1}), 3, 0, 0));
        assertStatus(NativeStatus.INVALID_ARGUMENT, "not a multiple of chunk_size",
                NativeBridge.retrieve(handle, 0, 0, 0, 0, t, args.longs(new long[] {0, 1, 2}), 3, 1, 0));
        long badUtf8 = args.bytes(new byte[] {(byte) 0xC3, (byte) 0x28});
        assertStatus(NativeStatus.INVALID_ARGUMENT, "cache_salt is not valid UTF-8",
                NativeBridge.lookup(handle, badUtf8, 2, 0, 0, t, 3, 0, 0));
        assertStatus(NativeStatus.INVALID_ARGUMENT, "request id must not be empty",
                NativeBridge.lookup(handle, 0, 0, 0, 0, t, 3, args.str(""), 0));
        assertStatus(NativeStatus.INVALID_ARGUMENT, "need a CUDA driver", NativeBridge.registerKvCaches(handle,
                args.longs(caches.addresses()), 2, 0));
        assertStatus(NativeStatus.INVALID_ARGUMENT, "device -3 is not a device id", NativeBridge.registerKvCaches(handle,
                args.longs(caches.addresses()), 2, -3));
        assertStatus(NativeStatus.INVALID_ARGUMENT, "was given, but the KV caches are host memory",
                NativeBridge.store(handle, 0, 0, 0, 0, t, args.longs(new long[] {0, 1, 2}), 3, 0, 0x1234));
        assertStatus(NativeStatus.INVALID_ARGUMENT, "expected 2 layer caches, got 1",
                NativeBridge.registerKvCaches(handle, args.longs(caches.addresses()), 1, -1));
        assertStatus(NativeStatus.INVALID_ARGUMENT, "77 is not an engine handle", NativeBridge.clear(77));
    }

    @Test
    void storeBeforeRegistering_isOutOfOrder_namingTheCallersOwnCall() {
        long t = args.ints(new int[] {1});
        // A C or Python caller is told the call of its own API, not the Java method's name.
        assertStatus(NativeStatus.STATE, "call lmcache4j_register_kv_caches (Engine.register_kv_caches in Python) first",
                NativeBridge.store(handle, 0, 0, 0, 0, t, args.longs(new long[] {0}), 1, 0, 0));
        assertEquals(-NativeStatus.STATE.code,
                NativeBridge.retrieve(handle, 0, 0, 0, 0, t, args.longs(new long[] {0}), 1, 0, 0));
        String message = args.takeError();
        assertFalse(message.contains("registerKvCaches"), message);
    }

    @Test
    void closedHandle_isClosed_everywhere() {
        assertEquals(0, NativeBridge.close(handle));
        long t = args.ints(new int[] {1});
        assertStatus(NativeStatus.CLOSED, "engine " + handle + " is closed", NativeBridge.lookup(handle, 0, 0, 0, 0, t, 1, 0, 0));
        assertStatus(NativeStatus.CLOSED, "is closed", NativeBridge.close(handle));
        assertStatus(NativeStatus.CLOSED, "is closed", NativeBridge.stats(handle, args.buffer(8).address(), 1));
    }

    @Test
    void badLayoutAndSettings_areRefusedWithTheirNames() {
        assertStatus(NativeStatus.INVALID_ARGUMENT, "unsupported KV dtype 'int3'", open(SETTINGS, "int3", "flash_attn"));
        assertStatus(NativeStatus.INVALID_ARGUMENT, "unsupported KV cache format 'nhd'", open(SETTINGS, "float16", "nhd"));
        assertStatus(NativeStatus.INVALID_ARGUMENT, "chunk_size", open("{\"chunk_size\": -4}", "float16", "flash_attn"));
        assertStatus(NativeStatus.INVALID_ARGUMENT, "must be a mapping", open("[1, 2]", "float16", "flash_attn"));
    }

    @Test
    void settings_layOverTheEnvironment() {
        MemorySegment buf = args.buffer(4096);
        long n = NativeBridge.configJson(handle, buf.address(), 4096);
        String json = buf.getString(0);
        assertEquals(n, json.length());
        assertTrue(json.contains("\"chunk_size\": 64"), json);
        assertTrue(json.contains("\"save_unfull_chunk\": true"), json);
        assertEquals(n, NativeBridge.configJson(handle, buf.address(), 10), "the full length, even when cut");
        assertEquals(9, buf.getString(0).length());
    }

    @Test
    void stats_writeAsManyFieldsAsAsked() {
        MemorySegment out = args.buffer(8 * 40);
        assertEquals(20, NativeBridge.stats(handle, out.address(), 40));
        assertEquals(0, NativeBridge.stats(handle, out.address(), 0));
        long capacityBytes = out.getAtIndex(ValueLayout.JAVA_LONG, 4);
        assertTrue(capacityBytes > 0 && capacityBytes <= 0.01 * (1L << 30) + 1, "capacity " + capacityBytes);
    }

    @Test
    void takeError_isPerThread_andClearedOnRead() throws Exception {
        assertEquals(-NativeStatus.INVALID_ARGUMENT.code, NativeBridge.close(-5));
        String[] seenByOther = new String[1];
        Thread other = new Thread(() -> {
            NativeBridge.close(-6);
            try (NativeArgs mine = new NativeArgs()) {
                seenByOther[0] = mine.takeError();
            }
        });
        other.start();
        other.join();
        assertEquals("-6 is not an engine handle", seenByOther[0]);
        assertEquals("-5 is not an engine handle", args.takeError());
        assertEquals("", args.takeError(), "read twice");
    }

    private long open(String settings, String dtype, String format) {
        return NativeBridge.open(0, 0, args.str(settings), NativeArgs.len(settings), LAYOUT.numLayers(),
                LAYOUT.numKvHeads(), LAYOUT.headSize(), args.str(dtype), NativeArgs.len(dtype), LAYOUT.blockSize(),
                LAYOUT.numBlocks(), args.str(format), NativeArgs.len(format), args.str("m"), 1, 1, 0);
    }

    private void register() {
        assertEquals(0, NativeBridge.registerKvCaches(handle, args.longs(caches.addresses()), 2, -1));
    }

    private long statsField(int index) {
        MemorySegment out = args.buffer(8 * 20);
        NativeBridge.stats(handle, out.address(), 20);
        return out.getAtIndex(ValueLayout.JAVA_LONG, index);
    }

    private void assertStatus(NativeStatus expected, String inMessage, long result) {
        assertEquals(-expected.code, result, () -> "status; message: " + args.takeError());
        String message = args.takeError();
        assertTrue(message.contains(inMessage), () -> "message '" + message + "' lacks '" + inMessage + "'");
    }
}
