package org.lmcache4j.transfer;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.lmcache4j.CudaEmulator;
import org.lmcache4j.DeviceCaches;
import org.lmcache4j.KvLayout;
import org.lmcache4j.PagedTestCaches;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.List;

/**
 * The transfer contract for {@link CudaKvTransfer} on device caches, on the CPU-run CUDA driver:
 * its real JCuda calls, the real fatbin's kernels run by the driver from their host build, pages
 * page-locked as the pool's are. Every test ends with the driver's resources as they were.
 */
@Tag("cuda")
abstract class CudaTransferContract extends KvTransferContract {
    private CudaEmulator emulator;
    private CudaEmulator.Counts before;
    private CudaKvTransfer transfer;
    private DeviceMemory memory;
    private final List<MemorySegment> pinned = new ArrayList<>();

    abstract CudaKvTransfer.Mode mode();

    @BeforeEach
    void needsTheEmulator() {
        emulator = CudaEmulator.require();
        before = emulator.counts();
        memory = new DeviceMemory(0);
    }

    @Override
    protected PagedTestCaches caches(KvLayout layout) {
        return new DeviceCaches(layout, 0);
    }

    @Override
    protected KvTransfer transfer(PagedTestCaches caches) {
        if (transfer == null) {
            byte[] fatbin = read();
            transfer = new CudaKvTransfer(mode(), () -> fatbin, 0, caches.addresses()[0]);
        }
        transfer.prepare(caches.view());
        return transfer;
    }

    @Override
    protected MemorySegment page(Arena arena, long bytes) {
        MemorySegment page = arena.allocate(bytes, 4096);
        memory.pin(page);
        pinned.add(page);
        return page;
    }

    private byte[] read() {
        try {
            return Files.readAllBytes(emulator.fatbin);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    @AfterEach
    void nothingLeaked() {
        if (transfer != null) {
            transfer.close();
        }
        pinned.forEach(memory::unpin);
        pinned.clear();
        memory.close();
        emulator.assertNothingLeaked(before);
    }
}
