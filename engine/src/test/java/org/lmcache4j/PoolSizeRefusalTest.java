package org.lmcache4j;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.lmcache4j.memory.ChunkPool;
import org.lmcache4j.memory.SlabRegistrar;
import org.lmcache4j.memory.SlabSource;

import java.nio.file.Path;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Configurations that could never cache anything do not start: a CPU pool smaller than one chunk
 * (every chunk passes through it, also on its way to disk or Redis), and {@code local_cpu: false}
 * with no tier to keep chunks in. {@code local_cpu: false} with a tier caches, as in LMCache.
 */
class PoolSizeRefusalTest {
    private static final KvLayout MISTRAL = KvLayout.mistral7b(64); // 32 MiB chunks of 256 tokens

    private static IllegalArgumentException refused(EngineConfig config, KvLayout layout) {
        return assertThrows(IllegalArgumentException.class,
                () -> CacheEngine.builder().config(config).layout(layout).open().close());
    }

    private static void assertMentions(Throwable t, String... parts) {
        for (String part : parts) {
            assertTrue(t.getMessage().contains(part), () -> "'" + part + "' missing from: " + t.getMessage());
        }
    }

    @Test
    void poolSmallerThanOneChunk_isRefusedAtOpen_namingTheKeyAndWhy() {
        var e = refused(EngineConfig.builder().maxLocalCpuSizeGb(0.0001).build(), MISTRAL);
        assertMentions(e, "max_local_cpu_size 0.0001 GB", "smaller than one chunk", "chunk_size 256",
                "33554432 bytes (32.00 MiB)", "at least 0.032 GB");
        assertFalse(e.getMessage().contains("lower chunk_size"), "not even one token fits: " + e.getMessage());
    }

    @Test
    void hugeChunkSize_inTheDefaultPool_isRefused_sayingWhatFits() {
        // LMCACHE_CHUNK_SIZE=1000000: a 122 GiB chunk in a 5 GiB pool.
        var e = refused(EngineConfig.builder().chunkSize(1_000_000).build(), MISTRAL);
        assertMentions(e, "max_local_cpu_size 5 GB", "chunk_size 1000000", "122.07 GiB",
                "lower chunk_size to at most 40960");
        try (CacheEngine fits = CacheEngine.builder().config(EngineConfig.builder().chunkSize(40960).build())
                .layout(MISTRAL).open()) {
            assertEquals(1, fits.stats().capacityPages(), "the chunk_size the message offers fits");
        }
    }

    @Test
    void poolOfZero_isRefused_evenWithADiskOrRemoteTier(@TempDir Path dir) {
        refused(EngineConfig.builder().maxLocalCpuSizeGb(0).build(), MISTRAL);
        var disk = refused(EngineConfig.builder().maxLocalCpuSizeGb(0).localDisk(dir.toString())
                .maxLocalDiskSizeGb(1).build(), MISTRAL);
        assertMentions(disk, "max_local_cpu_size 0 GB", "also on its way to disk or Redis");
        refused(EngineConfig.builder().maxLocalCpuSizeGb(0).remoteUrl("redis://127.0.0.1:1").build(), MISTRAL);
    }

    @Test
    void localCpuFalse_withNoTier_isRefused_namingLocalCpu() {
        var e = refused(EngineConfig.builder().localCpu(false).build(), MISTRAL);
        assertMentions(e, "local_cpu is false", "local_disk", "remote_url", "could never cache anything");
        // The Helm chart's disaggregated-prefill setting: LMCACHE_LOCAL_CPU=False, LMCACHE_MAX_LOCAL_CPU_SIZE=0.
        refused(EngineConfig.builder().localCpu(false).maxLocalCpuSizeGb(0).build(), MISTRAL);
    }

    @Test
    void localCpuFalse_withADiskTier_caches_andWritesEveryChunkToDisk(@TempDir Path dir) {
        KvLayout layout = EngineFixture.LAYOUT;
        EngineConfig config = EngineFixture.poolOfChunks(8).toBuilder().localCpu(false)
                .localDisk(dir.toString()).maxLocalDiskSizeGb(0.01).build();
        assertEquals(EngineFixture.poolOfChunks(8).cpuPoolBytes(), config.cpuPoolBytes());
        try (EngineFixture f = new EngineFixture(config, layout)) {
            int[] tokens = TestCaches.randomTokens(512, new Random(5));
            long[] slots = TestCaches.randomSlots(layout, 512, new Random(6));
            assertEquals(512, f.engine.store(tokens, slots, 0));
            long deadline = System.nanoTime() + 10_000_000_000L;
            while (f.engine.stats().spilledChunks() < 2 && System.nanoTime() < deadline) {
                Thread.onSpinWait();
            }
            assertEquals(2, f.engine.stats().spilledChunks(), "written through to disk at once");
            assertEquals(512, f.engine.lookup(tokens));
        }
    }

    @Test
    void poolChunks_countsPagesAsThePoolDoes() {
        // 3 layers x 1 head x 8 fp16, 2 planes: 96 bytes a token; pages round up to 4 KiB.
        KvLayout odd = new KvLayout(3, 1, 8, KvDtype.FLOAT16, 16, 64, KvFormat.FLASH_ATTN);
        for (int chunkSize : new int[] {1, 40, 43, 256}) {
            for (long poolBytes : new long[] {4096, 8191, 12288, 1 << 20}) {
                EngineConfig c = EngineConfig.builder().chunkSize(chunkSize)
                        .maxLocalCpuSizeGb(poolBytes / (double) EngineConfig.GB).build();
                try (ChunkPool pool = new ChunkPool(c.cpuPoolBytes(), odd.chunkBytes(chunkSize), 1 << 20,
                        SlabSource.best(), SlabRegistrar.NONE)) {
                    if (pool.capacityPages() == 0) {
                        assertThrows(IllegalArgumentException.class, () -> c.poolChunks(odd));
                    } else {
                        assertEquals(pool.capacityPages(), c.poolChunks(odd), chunkSize + " tokens in " + poolBytes);
                    }
                }
            }
        }
    }
}
