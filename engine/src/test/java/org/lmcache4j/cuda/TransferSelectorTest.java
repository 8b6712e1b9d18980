package org.lmcache4j.cuda;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.lmcache4j.transfer.HostKvTransfer;
import org.lmcache4j.transfer.KvTransfer;

import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicInteger;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class TransferSelectorTest {
    @TempDir
    Path dir;

    private final AtomicInteger cudaBuilt = new AtomicInteger();
    private final KvTransfer fakeCuda = new KvTransfer() {
        @Override
        public void gather(org.lmcache4j.transfer.PagedCaches c, long[] s, int f, int t, MemorySegment p) {
        }

        @Override
        public void scatter(MemorySegment p, org.lmcache4j.transfer.PagedCaches c, long[] s, int f, int t) {
        }

        @Override
        public String describe() {
            return "cuda";
        }
    };

    private TransferSelector selector(CudaProbe.Result probe) {
        return new TransferSelector(probe, () -> {
            cudaBuilt.incrementAndGet();
            return fakeCuda;
        });
    }

    @Test
    void noDriver_choosesHost_withoutBuildingCuda() {
        TransferSelector s = selector(new CudaProbe.Result(CudaProbe.State.NO_DRIVER, 0, "no CUDA driver", Optional.empty()));
        assertInstanceOf(HostKvTransfer.class, s.select(new long[]{StubDriver.DEVICE_BASE}));
        assertEquals(0, cudaBuilt.get());
        assertTrue(s.describe().contains("no CUDA driver"));
    }

    @Test
    void driverWithoutDevice_choosesHost() throws Exception {
        TransferSelector s = selector(CudaProbe.probe(StubDriver.build(dir, 0, 0).toString()));
        assertEquals(TransferSelector.Kind.HOST, s.choose(new long[]{StubDriver.DEVICE_BASE}).kind());
    }

    @Test
    void devices_hostCaches_chooseHost() throws Exception {
        TransferSelector s = selector(CudaProbe.probe(StubDriver.build(dir, 1, 0).toString()));
        TransferSelector.Choice c = s.choose(new long[]{4096, 8192});
        assertEquals(TransferSelector.Kind.HOST, c.kind());
        assertTrue(c.reason().contains("host memory"), c.reason());
        assertEquals(TransferSelector.Kind.HOST, s.choose(null).kind());
    }

    @Test
    void devices_deviceCaches_chooseCuda_builtOnce() throws Exception {
        TransferSelector s = selector(CudaProbe.probe(StubDriver.build(dir, 1, 0).toString()));
        long[] caches = {StubDriver.DEVICE_BASE, StubDriver.DEVICE_BASE + (1 << 20)};
        assertSame(fakeCuda, s.select(caches));
        assertSame(fakeCuda, s.select(caches));
        assertEquals(1, cudaBuilt.get());
    }

    @Test
    void devices_mixedCaches_refused() throws Exception {
        TransferSelector s = selector(CudaProbe.probe(StubDriver.build(dir, 1, 0).toString()));
        assertThrows(IllegalArgumentException.class, () -> s.choose(new long[]{StubDriver.DEVICE_BASE, 4096}));
    }

    @Test
    void cudaTransferThatCannotBeBuilt_failsTheRegistrationClearly() throws Exception {
        TransferSelector s = new TransferSelector(CudaProbe.probe(StubDriver.build(dir, 1, 0).toString()), () -> {
            throw new IllegalStateException("no kernels were found");
        });
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> s.select(new long[]{StubDriver.DEVICE_BASE}));
        assertTrue(e.getMessage().contains("no kernels"), e.getMessage());
        assertEquals(TransferSelector.Kind.HOST, s.choose(new long[]{4096}).kind(), "host caches still work");
    }
}
