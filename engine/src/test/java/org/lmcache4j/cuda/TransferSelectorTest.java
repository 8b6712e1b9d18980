package org.lmcache4j.cuda;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.lmcache4j.CudaStream;
import org.lmcache4j.memory.SlabRegistrar;
import org.lmcache4j.transfer.HostKvTransfer;
import org.lmcache4j.transfer.KvTransfer;
import org.lmcache4j.transfer.PagedCaches;
import org.lmcache4j.transfer.TransferBatch;

import java.nio.file.Path;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicInteger;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The choice of transfer against the stub driver: where memory is, and what the caller claimed. */
class TransferSelectorTest {
    private static final long DEVICE = StubDriver.DEVICE_BASE;
    private static final int AUTO = TransferSelector.AUTO;

    @TempDir
    Path dir;

    private final AtomicInteger cudaBuilt = new AtomicInteger();
    private final KvTransfer fakeCuda = new KvTransfer() {
        @Override
        public TransferBatch begin(PagedCaches caches, long[] slots, CudaStream stream) {
            throw new UnsupportedOperationException();
        }

        @Override
        public TransferBatch beginLayer(PagedCaches caches, long[] slots, CudaStream stream, int layer) {
            throw new UnsupportedOperationException();
        }

        @Override
        public void checkStream(CudaStream stream) {
        }

        @Override
        public String describe() {
            return "cuda";
        }
    };

    private TransferSelector selector(CudaProbe.Result probe) {
        return new TransferSelector(probe, new TransferSelector.CudaFactory() {
            @Override
            public KvTransfer transfer(int device, long cacheAddress) {
                cudaBuilt.incrementAndGet();
                return fakeCuda;
            }

            @Override
            public SlabRegistrar registrar(int device) {
                return SlabRegistrar.NONE;
            }
        });
    }

    /** What the engine does at registration: choose, then the transfer for the choice. */
    private static KvTransfer select(TransferSelector s, long[] addresses, int device) {
        return s.transferFor(s.choose(addresses, device), addresses);
    }

    private TransferSelector withDevices(int devices) throws Exception {
        return selector(CudaProbe.probe(StubDriver.build(dir, devices, 0).toString()));
    }

    private static void assertRefused(String words, Runnable call) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, call::run);
        assertTrue(e.getMessage().contains(words), e.getMessage());
    }

    @Test
    void noDriver_choosesHost_withoutBuildingCuda() {
        TransferSelector s = selector(new CudaProbe.Result(CudaProbe.State.NO_DRIVER, 0, "no CUDA driver", Optional.empty()));
        assertInstanceOf(HostKvTransfer.class, select(s, new long[]{4096}, AUTO));
        assertInstanceOf(HostKvTransfer.class, select(s, new long[]{4096}, TransferSelector.HOST));
        assertEquals(0, cudaBuilt.get());
        assertTrue(s.describe().contains("no CUDA driver"));
    }

    @Test
    void noDriver_deviceCaches_refusedNamingTheDevice() {
        TransferSelector s = selector(new CudaProbe.Result(CudaProbe.State.NO_DRIVER, 0, "no CUDA driver", Optional.empty()));
        assertRefused("CUDA device 0 need a CUDA driver", () -> s.choose(new long[]{4096}, 0));
        assertEquals(0, cudaBuilt.get());
    }

    @Test
    void driverWithoutDevice_choosesHost() throws Exception {
        TransferSelector s = withDevices(0);
        assertEquals(TransferSelector.Kind.HOST, s.choose(new long[]{DEVICE}, AUTO).kind());
    }

    @Test
    void devices_hostCaches_chooseHost() throws Exception {
        TransferSelector s = withDevices(1);
        TransferSelector.Choice c = s.choose(new long[]{4096, 8192}, AUTO);
        assertEquals(TransferSelector.Kind.HOST, c.kind());
        assertTrue(c.reason().contains("host memory"), c.reason());
        assertEquals(TransferSelector.Kind.HOST, s.choose(null, TransferSelector.HOST).kind());
        assertEquals(TransferSelector.Kind.HOST, s.choose(new long[]{4096}, TransferSelector.HOST).kind());
    }

    @Test
    void devices_deviceCaches_chooseCudaOnTheirDevice_builtOnce() throws Exception {
        TransferSelector s = withDevices(1);
        long[] caches = {DEVICE, DEVICE + (1 << 20)};
        assertEquals(0, s.choose(caches, AUTO).device());
        assertSame(fakeCuda, select(s, caches, AUTO));
        assertSame(fakeCuda, select(s, caches, 0));
        assertEquals(1, cudaBuilt.get());
    }

    @Test
    void wrongClaims_refusedNamingTheValue() throws Exception {
        TransferSelector s = withDevices(1);
        assertRefused("registered as host memory (device -1), but layer 0", () -> s.choose(new long[]{DEVICE}, TransferSelector.HOST));
        assertRefused("registered for CUDA device 0, but they are host memory", () -> s.choose(new long[]{4096}, 0));
        assertRefused("CUDA device 3 does not exist: the driver sees 1", () -> s.choose(new long[]{DEVICE}, 3));
        assertRefused("device -5 is not a device id", () -> s.choose(new long[]{DEVICE}, -5));
        assertRefused("Java memory segments are host memory", () -> s.choose(null, 0));
        assertEquals(0, cudaBuilt.get());
    }

    @Test
    void devices_mixedCaches_refused() throws Exception {
        TransferSelector s = withDevices(1);
        assertRefused("1 of 2 layer caches are device memory", () -> s.choose(new long[]{DEVICE, 4096}, AUTO));
    }

    @Test
    void cudaTransferThatCannotBeBuilt_failsTheRegistrationClearly() throws Exception {
        TransferSelector s = new TransferSelector(CudaProbe.probe(StubDriver.build(dir, 1, 0).toString()),
                new TransferSelector.CudaFactory() {
                    @Override
                    public KvTransfer transfer(int device, long cacheAddress) {
                        throw new IllegalStateException("no kernels were found");
                    }

                    @Override
                    public SlabRegistrar registrar(int device) {
                        return SlabRegistrar.NONE;
                    }
                });
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> select(s, new long[]{DEVICE}, AUTO));
        assertTrue(e.getMessage().contains("no kernels"), e.getMessage());
        assertEquals(TransferSelector.Kind.HOST, s.choose(new long[]{4096}, AUTO).kind(), "host caches still work");
    }
}
