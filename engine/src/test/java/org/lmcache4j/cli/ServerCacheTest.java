package org.lmcache4j.cli;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.lmcache4j.CudaStream;
import org.lmcache4j.KvDtype;
import org.lmcache4j.KvFormat;
import org.lmcache4j.KvLayout;
import org.lmcache4j.TestCaches;
import org.lmcache4j.metrics.MetricsRegistry;
import org.lmcache4j.server.EngineServer;
import org.lmcache4j.server.ServerProcesses;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.atomic.AtomicLong;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** {@link ServerCache} without its server: misses and skipped stores, and a new HELLO at most once a second. */
class ServerCacheTest {
    private static final KvLayout LAYOUT = new KvLayout(2, 2, 8, KvDtype.BFLOAT16, 16, 512, KvFormat.FLASH_ATTN);
    private static final long SECOND = ServerCache.RECONNECT_NANOS;

    @TempDir
    Path tmp;

    @Test
    void whileTheServerIsGone_callsMissWithoutError_andItTriesAgainAtMostOnceASecond() throws Exception {
        Path socket = ServerProcesses.privateSocket(tmp);
        Path config = Files.writeString(tmp.resolve("lmcache.yaml"), "chunk_size: 16\nmax_local_cpu_size: 0.01\n");
        AtomicLong clock = new AtomicLong(100 * SECOND);
        ByteArrayOutputStream logged = new ByteArrayOutputStream();
        PrintStream log = new PrintStream(logged, true, StandardCharsets.UTF_8);
        int[] tokens = TestCaches.randomTokens(64, new Random(1));
        long[] slots = TestCaches.randomSlots(LAYOUT, 64, new Random(2));
        try (TestCaches caches = new TestCaches(LAYOUT)) {
            caches.fillRandom(3);
            ServerCache cache;
            try (EngineServer first = start(socket, config)) {
                cache = ServerCache.connect(socket, "m", LAYOUT, caches.layers, log, clock::get);
                assertEquals(64, cache.store(tokens, slots, CudaStream.DEFAULT));
                assertEquals(4, cache.counters().last(ServerCounters.CHUNKS));
            }
            try (cache) {
                cache.lookupAndPin("r", tokens); // finds the server gone: no error
                assertEquals(ReplayCache.Retrieved.NONE, cache.retrieve(tokens, slots, CudaStream.DEFAULT));
                assertEquals(0, cache.store(tokens, slots, CudaStream.DEFAULT), "skipped");
                assertEquals(3, cache.callsWithoutServer());
                try (EngineServer second = start(socket, config)) {
                    clock.addAndGet(SECOND - 1);
                    assertEquals(0, cache.store(tokens, slots, CudaStream.DEFAULT), "not tried again within a second");
                    assertEquals(0, cache.reconnects());
                    clock.addAndGet(1);
                    assertEquals(64, cache.store(tokens, slots, CudaStream.DEFAULT), "a new HELLO to the new server");
                    assertEquals(1, cache.reconnects());
                    assertEquals(second.engine().stats().chunks(), cache.counters().last(ServerCounters.CHUNKS));
                }
            }
        }
        String said = logged.toString(StandardCharsets.UTF_8);
        assertEquals(1, said.split("is gone", -1).length - 1, said);
        assertTrue(said.contains("reconnected to lmcache4j server at " + socket), said);
    }

    private static EngineServer start(Path socket, Path config) throws java.io.IOException {
        return EngineServer.start(socket, config.toString(), Map.of(), new MetricsRegistry(), Duration.ofSeconds(5));
    }
}
