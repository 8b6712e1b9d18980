package org.lmcache4j.cuda;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

class CudaProbeTest {
    @TempDir
    Path dir;

    @Test
    void missingLibrary_meansNoDriver() {
        CudaProbe.Result r = CudaProbe.probe(dir.resolve("libcuda.so.1").toString());
        assertEquals(CudaProbe.State.NO_DRIVER, r.state());
        assertTrue(r.reason().contains("no CUDA driver"), r.reason());
        assertFalse(r.devicesPresent());
    }

    @Test
    void unknownLibraryName_meansNoDriver() {
        assertEquals(CudaProbe.State.NO_DRIVER, CudaProbe.probe("libcuda-does-not-exist.so.1").state());
    }

    @Test
    void systemProbe_onThisMachine_answersWithoutThrowing() {
        // CI has no driver; a GPU box has one. Either way the probe answers and JCuda stays unloaded.
        CudaProbe.Result r = CudaProbe.system();
        assertEquals(r.devicesPresent(), r.devices() > 0);
        assertFalse(r.reason().isBlank());
    }

    @Test
    void stubDriverWithoutDevices_meansDriverWithoutDevice() throws Exception {
        CudaProbe.Result r = CudaProbe.probe(StubDriver.build(dir, 0, 0).toString());
        assertEquals(CudaProbe.State.NO_DEVICE, r.state());
        assertTrue(r.reason().contains("sees no device"), r.reason());
    }

    @Test
    void stubDriverWhoseInitFindsNoDevice_namesTheError() throws Exception {
        CudaProbe.Result r = CudaProbe.probe(StubDriver.build(dir, 0, 100).toString());
        assertEquals(CudaProbe.State.NO_DEVICE, r.state());
        assertTrue(r.reason().contains("CUDA_ERROR_NO_DEVICE"), r.reason());
    }

    @Test
    void stubDriverWithTwoDevices_countsThem() throws Exception {
        CudaProbe.Result r = CudaProbe.probe(StubDriver.build(dir, 2, 0).toString());
        assertEquals(CudaProbe.State.DEVICES, r.state());
        assertEquals(2, r.devices());
        CudaProbe.Driver d = r.driver().orElseThrow();
        assertTrue(d.isDeviceMemory(StubDriver.DEVICE_BASE + 4096));
        assertFalse(d.isDeviceMemory(4096));
    }
}
