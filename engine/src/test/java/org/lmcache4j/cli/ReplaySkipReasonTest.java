package org.lmcache4j.cli;

import org.junit.jupiter.api.Test;
import org.lmcache4j.CacheEngine;
import org.lmcache4j.EngineConfig;
import org.lmcache4j.KeyScope;
import org.lmcache4j.KvDtype;
import org.lmcache4j.KvFormat;
import org.lmcache4j.KvLayout;

import java.util.stream.IntStream;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** The replay tells a pool too small for a prompt from a pool whose pages are all pinned. */
class ReplaySkipReasonTest {
    private static final KvLayout LAYOUT = new KvLayout(2, 1, 64, KvDtype.BFLOAT16, 16, 64, KvFormat.FLASH_ATTN);
    private static final int CHUNK = 16; // 16 tokens of 512 bytes: 8 KiB chunks

    @Test
    void skipsBecauseEveryPageIsPinned_areCountedAsHeld_andPromptsLongerThanThePool_asSuch() {
        EngineConfig config = EngineConfig.builder().chunkSize(CHUNK)
                .maxLocalCpuSizeGb(4 * LAYOUT.chunkBytes(CHUNK) / (double) EngineConfig.GB).build();
        try (HostServingEngine serving = new HostServingEngine(LAYOUT, 1);
             CacheEngine engine = CacheEngine.builder().config(config).layout(LAYOUT).open()) {
            engine.registerKvCaches(serving.addresses());
            ReplayCommand.ReplayRun run = new ReplayCommand.ReplayRun();
            int[] a = IntStream.range(0, 4 * CHUNK).toArray();
            long[] slots = serving.allocate(a.length);
            engine.store(KeyScope.NONE, a, slots, 0);
            run.countSkipped(new EmbeddedCache(engine), a.length);
            assertEquals(4, engine.lookupAndPin("a", KeyScope.NONE, a) / CHUNK, "every page pinned");
            int[] b = IntStream.range(1000, 1000 + 2 * CHUNK).toArray();
            engine.store(KeyScope.NONE, b, serving.allocate(b.length), 0);
            run.countSkipped(new EmbeddedCache(engine), b.length);
            assertEquals(2, run.skippedPagesHeld, "two chunks that would fit, but every page was pinned");
            assertEquals(0, run.skippedPromptOverPool);
            engine.unpin("a");
            int[] c = IntStream.range(5000, 5000 + 6 * CHUNK).toArray();
            engine.store(KeyScope.NONE, c, serving.allocate(c.length), 0);
            run.countSkipped(new EmbeddedCache(engine), c.length);
            assertEquals(2, run.skippedPromptOverPool, "six new chunks for four pages");
            assertEquals(2, run.skippedPagesHeld);
        }
    }
}
