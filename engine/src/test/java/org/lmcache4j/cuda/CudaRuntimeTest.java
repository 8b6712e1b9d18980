package org.lmcache4j.cuda;

import org.junit.jupiter.api.Test;
import org.lmcache4j.CacheEngine;
import org.lmcache4j.EngineConfig;
import org.lmcache4j.KvLayout;
import org.lmcache4j.transfer.CudaKvTransfer;

import java.util.Map;
import java.util.Optional;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class CudaRuntimeTest {
    private static final CudaProbe.Result NO_DRIVER =
            new CudaProbe.Result(CudaProbe.State.NO_DRIVER, 0, "no CUDA driver", Optional.empty());

    @Test
    void mode_defaultsToKernel_acceptsDma_refusesOthers() {
        assertEquals(CudaKvTransfer.Mode.KERNEL, CudaRuntime.mode(Map.of()));
        assertEquals(CudaKvTransfer.Mode.DMA, CudaRuntime.mode(Map.of("cuda_transfer", " DMA ")));
        assertThrows(IllegalArgumentException.class, () -> CudaRuntime.mode(Map.of("cuda_transfer", "fast")));
    }

    @Test
    void engine_withBadCudaMode_refusesToOpen_evenWithoutGpu() {
        EngineConfig config = EngineConfig.builder().extraConfig(Map.of("cuda_transfer", "fast")).build();
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> CacheEngine.builder().config(config).layout(KvLayout.mistral7b(4)).open());
        assertTrue(e.getMessage().contains("cuda_transfer"), e.getMessage());
    }
}
