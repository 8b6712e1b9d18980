package org.lmcache4j.server;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.lmcache4j.CacheEngine;
import org.lmcache4j.EngineConfig;
import org.lmcache4j.EngineStats;
import org.lmcache4j.KeyScope;
import org.lmcache4j.KvLayout;
import org.lmcache4j.TestCaches;
import org.lmcache4j.metrics.MetricsRegistry;

import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * One {@link EngineServer} for every tensor-parallel rank of the node: an engine per rank, each
 * with its share of the node's pool, chosen by the client's hello; other world sizes and other
 * models refused. Real sockets, {@link ServerClient}s copying in their own memory.
 */
class ServerRanksTest {
    static final KvLayout LAYOUT = ServerTest.LAYOUT;
    static final String SETTINGS = ServerTest.SETTINGS; // max_local_cpu_size 0.01: the node's pool

    @TempDir
    Path tmp;
    Path socket;
    MetricsRegistry registry = new MetricsRegistry();
    EngineServer server;
    final List<AutoCloseable> open = new ArrayList<>();

    @BeforeEach
    void start() throws IOException {
        socket = ServerTest.privateSocket(tmp);
        server = EngineServer.start(socket, null, Map.of(), registry, Duration.ofSeconds(5));
    }

    @AfterEach
    void stop() throws Exception {
        for (AutoCloseable c : open.reversed()) {
            c.close();
        }
        for (CacheEngine e : server.engines().values()) {
            awaitQuiet(e);
        }
        server.close();
    }

    /** A worker of rank {@code rank} of {@code world}, with caches of {@link #LAYOUT} filled from {@code seed}. */
    static ServerTest.Client worker(Path socket, String model, int world, int rank, long seed, String settings,
                                    List<AutoCloseable> open) throws IOException {
        TestCaches caches = new TestCaches(LAYOUT);
        open.add(caches);
        caches.fillRandom(seed);
        ServerClient c = ServerClient.connect(socket, model, world, rank, LAYOUT, settings);
        open.add(c);
        c.registerKvCaches(caches.layers);
        return new ServerTest.Client(c, caches);
    }

    ServerTest.Client worker(int world, int rank, long seed) throws IOException {
        return worker(socket, "m", world, rank, seed, SETTINGS, open);
    }

    @Test
    void twoRanks_storeAndRetrieveTheirOwnShards_withNoCrossRankHit() throws IOException {
        Random rnd = new Random(11);
        int[] tokens = TestCaches.randomTokens(64, rnd);
        ServerTest.Client rank0 = worker(2, 0, 1);
        ServerTest.Client rank1 = worker(2, 1, 2);
        long[] slots0 = TestCaches.randomSlots(LAYOUT, 64, rnd);
        long[] slots1 = TestCaches.randomSlots(LAYOUT, 64, rnd);
        assertEquals(64, rank0.server().store(KeyScope.NONE, tokens, slots0, 0));
        assertEquals(0, rank1.server().lookup(KeyScope.NONE, tokens, null), "rank 0's shard is no hit for rank 1");
        assertEquals(64, rank1.server().store(KeyScope.NONE, tokens, slots1, 0), "rank 1 stores its own shard");
        assertEquals(Set.of(0, 1), server.engines().keySet(), "one engine per rank");

        // A second instance of the same TP=2 model: each of its ranks hits its own rank's shard.
        ServerTest.Client other0 = worker(2, 0, 3);
        ServerTest.Client other1 = worker(2, 1, 4);
        assertEquals(64, other1.server().lookup(KeyScope.NONE, tokens, "req"));
        assertEquals(64, other0.server().lookup(KeyScope.NONE, tokens, "req"), "same request id, another rank's engine");
        long[] into0 = TestCaches.randomSlots(LAYOUT, 64, rnd);
        long[] into1 = TestCaches.randomSlots(LAYOUT, 64, rnd);
        assertEquals(64, other0.server().retrieve(KeyScope.NONE, tokens, into0, 0));
        assertEquals(64, other1.server().retrieve(KeyScope.NONE, tokens, into1, 0));
        byte[] shard0 = rank0.caches().rows(slots0, 0, 64);
        byte[] shard1 = rank1.caches().rows(slots1, 0, 64);
        assertFalse(Arrays.equals(shard0, shard1), "the two ranks' shards differ");
        assertArrayEquals(shard0, other0.caches().rows(into0, 0, 64), "rank 0 got rank 0's bytes");
        assertArrayEquals(shard1, other1.caches().rows(into1, 0, 64), "rank 1 got rank 1's bytes");
        assertEquals(4, other0.server().unpin("req"));
        assertEquals(4, other1.server().unpin("req"));
        for (int rank : List.of(0, 1)) {
            EngineStats s = server.engine(rank).stats();
            assertEquals(4, s.chunks(), "rank " + rank + " holds its 4 chunks only");
            assertEquals(0, s.leases());
            assertEquals(0, s.pins());
        }
    }

    @Test
    void theNodesPool_isSplitAmongTheRanks_andEachConnectionSeesItsRanksEngine() throws IOException {
        ServerTest.Client rank0 = worker(2, 0, 1);
        ServerTest.Client rank1 = worker(2, 1, 2);
        int[] tokens = TestCaches.randomTokens(48, new Random(3));
        rank1.server().store(KeyScope.NONE, tokens, TestCaches.randomSlots(LAYOUT, 48, new Random(4)), 0);

        long nodeBytes = (long) (0.01 * EngineConfig.GB);
        long pageBytes = 4096; // a 2 KiB chunk of LAYOUT, rounded up to 4 KiB
        for (int rank : List.of(0, 1)) {
            EngineStats s = server.engine(rank).stats();
            assertEquals(nodeBytes / 2 / pageBytes, s.capacityPages(), "rank " + rank + " holds half the node's pool");
            assertEquals(0.005, server.engine(rank).config().maxLocalCpuSizeGb(), 1e-12);
        }
        long[] stats0 = rank0.server().stats();
        long[] stats1 = rank1.server().stats();
        assertEquals(nodeBytes / 2 / pageBytes, stats0[2], "STATS: capacity pages of the connection's engine");
        assertEquals(0, stats0[0], "rank 0's engine holds nothing");
        assertEquals(3, stats1[0], "rank 1's engine holds the 3 chunks it stored");
        assertTrue(rank1.server().configJson().matches("(?s).*\"max_local_cpu_size\": ?0\\.005\\b.*"),
                rank1.server().configJson());
    }

    @Test
    void oneRank_getsTheWholeNode() throws IOException {
        worker(1, 0, 1);
        assertEquals((long) (0.01 * EngineConfig.GB) / 4096, server.engine(0).stats().capacityPages());
    }

    @Test
    void anotherWorldSize_isRefusedNamingBoth_andChangesNothing() throws IOException {
        worker(2, 0, 1);
        String why = assertThrows(IllegalArgumentException.class, () -> worker(4, 2, 2)).getMessage();
        assertTrue(why.contains("world size 2, not 4") && why.contains("1/2 of the node's max_local_cpu_size"), why);
        why = assertThrows(IllegalArgumentException.class, () -> worker(4, 0, 2)).getMessage();
        assertTrue(why.contains("world size 2, not 4"), "the rank of an open engine, but another world: " + why);
        why = assertThrows(IllegalArgumentException.class, () -> worker(2, 2, 3)).getMessage();
        assertTrue(why.contains("rank 2 of world size 2 is not a worker"), why);
        assertEquals(Set.of(0), server.engines().keySet(), "nothing was opened");
        worker(2, 1, 4); // the world's other rank is welcome
        assertEquals(Set.of(0, 1), server.engines().keySet());
    }

    @Test
    void aSecondModel_isRefusedNamingBoth() throws IOException {
        worker(2, 0, 1);
        String why = assertThrows(IllegalArgumentException.class,
                () -> worker(socket, "other", 2, 1, 2, SETTINGS, open)).getMessage();
        assertTrue(why.contains("model other (the server's engine has m)") && why.contains("One model per server"), why);
        assertNull(server.engine(1), "the refused client opened no engine for its rank");
    }

    @Test
    void anotherLayoutForAnOpenRank_isRefused_andSettingsAreTheNodes() throws IOException {
        worker(2, 0, 1);
        String why = assertThrows(IllegalArgumentException.class, () -> ServerClient.connect(socket, "m", 2, 0,
                new KvLayout(2, 4, 8, LAYOUT.dtype(), 16, 512, LAYOUT.format()), SETTINGS)).getMessage();
        assertTrue(why.contains("engine of rank 0") && why.contains("num_kv_heads 4 (the server's engine has 2)"), why);
        why = assertThrows(IllegalArgumentException.class, () -> worker(socket, "m", 2, 1, 2,
                "{\"chunk_size\": 16, \"max_local_cpu_size\": 0.02}", open)).getMessage();
        assertTrue(why.contains("max_local_cpu_size 0.02 (the server's engine has 0.01)"),
                "a rank's first client cannot change the node's budget: " + why);
    }

    @Test
    void aRanksShareTooSmallForAChunk_isRefusedNamingTheSplit() {
        String why = assertThrows(IllegalArgumentException.class, () -> worker(socket, "m", 4, 0, 1,
                "{\"chunk_size\": 16, \"max_local_cpu_size\": 0.000005}", open)).getMessage();
        assertTrue(why.contains("rank 0 of world size 4 gets 1/4 of the node's max_local_cpu_size"), why);
        assertTrue(server.engines().isEmpty());
    }

    @Test
    void metrics_areLabelledPerRank() throws IOException {
        ServerTest.Client rank0 = worker(2, 0, 1);
        ServerTest.Client rank1 = worker(2, 1, 2);
        rank0.server().lookup(KeyScope.NONE, new int[] {1, 2, 3}, null);
        String all = registry.scrape();
        assertTrue(all.contains("worker_id=\"0\"") && all.contains("worker_id=\"1\""), all);
        String mine = rank1.server().metricsText();
        assertTrue(mine.contains("worker_id=\"1\"") && !mine.contains("worker_id=\"0\""),
                "a connection's metrics are its rank's engine's: " + mine);
    }

    /** Waits for a client's gone connection to release what it held, before the server closes. */
    private static void awaitQuiet(CacheEngine e) {
        long deadline = System.nanoTime() + Duration.ofSeconds(5).toNanos();
        while ((e.stats().pins() != 0 || e.stats().leases() != 0) && System.nanoTime() < deadline) {
            Thread.onSpinWait();
        }
        assertEquals(0, e.stats().pins());
        assertEquals(0, e.stats().leases());
    }
}
