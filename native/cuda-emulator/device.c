/*
 * The devices: one (or LMCACHE4J_CUDA_EMULATOR_DEVICES) sm_90 GPU with an H100's limits.
 *
 * Attributes the engine or a kernel launch depends on have the real values (compute capability,
 * unified addressing, mapped and registered host memory, launch limits, warp size, copy engines);
 * a few that user code divides by (SM count, clock) are plausible H100 values; everything else
 * is 0, which for a capability means "not supported" (managed memory, peer access, ...), which is
 * the truth about this emulator.
 */
#include <stdio.h>
#include <string.h>

#include "emu.h"

#define EMU_DEVICE_NAME "LMCache4j CUDA emulator (runs on the CPU)"
#define EMU_PCI_BUS_BASE 0x41

CUresult emu_device_check_locked(CUdevice dev) {
    CUresult rc = emu_ready_locked();
    if (rc == CUDA_SUCCESS && (dev < 0 || dev >= emu.devices)) {
        rc = CUDA_ERROR_INVALID_DEVICE;
    }
    return rc;
}

static CUresult device_check(CUdevice dev) {
    EMU_LOCK();
    CUresult rc = emu_device_check_locked(dev);
    EMU_UNLOCK();
    return rc;
}

CUresult cuDeviceGetCount(int *count) {
    if (count == NULL) {
        return CUDA_ERROR_INVALID_VALUE;
    }
    CUresult rc = emu_ready(); /* emu.devices is set once, by the cuInit that succeeded */
    if (rc == CUDA_SUCCESS) {
        *count = emu.devices;
    }
    return rc;
}

CUresult cuDeviceGet(CUdevice *device, int ordinal) {
    if (device == NULL) {
        return CUDA_ERROR_INVALID_VALUE;
    }
    CUresult rc = device_check(ordinal);
    if (rc == CUDA_SUCCESS) {
        *device = ordinal;
    }
    return rc;
}

CUresult cuDeviceGetName(char *name, int len, CUdevice dev) {
    if (name == NULL || len <= 0) {
        return CUDA_ERROR_INVALID_VALUE;
    }
    CUresult rc = device_check(dev);
    if (rc == CUDA_SUCCESS) {
        snprintf(name, (size_t) len, "%s", EMU_DEVICE_NAME);
    }
    return rc;
}

static int attribute(CUdevice_attribute attrib, CUdevice dev) {
    switch (attrib) {
    case CU_DEVICE_ATTRIBUTE_MAX_THREADS_PER_BLOCK: return 1024;
    case CU_DEVICE_ATTRIBUTE_MAX_BLOCK_DIM_X: return 1024;
    case CU_DEVICE_ATTRIBUTE_MAX_BLOCK_DIM_Y: return 1024;
    case CU_DEVICE_ATTRIBUTE_MAX_BLOCK_DIM_Z: return 64;
    case CU_DEVICE_ATTRIBUTE_MAX_GRID_DIM_X: return 2147483647;
    case CU_DEVICE_ATTRIBUTE_MAX_GRID_DIM_Y: return 65535;
    case CU_DEVICE_ATTRIBUTE_MAX_GRID_DIM_Z: return 65535;
    case CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK: return 49152;
    case CU_DEVICE_ATTRIBUTE_TOTAL_CONSTANT_MEMORY: return 65536;
    case CU_DEVICE_ATTRIBUTE_WARP_SIZE: return 32;
    case CU_DEVICE_ATTRIBUTE_MAX_REGISTERS_PER_BLOCK: return 65536;
    case CU_DEVICE_ATTRIBUTE_CLOCK_RATE: return 1980000;
    case CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT: return 132;
    case CU_DEVICE_ATTRIBUTE_CAN_MAP_HOST_MEMORY: return 1;
    case CU_DEVICE_ATTRIBUTE_CONCURRENT_KERNELS: return 1;
    case CU_DEVICE_ATTRIBUTE_PCI_BUS_ID: return EMU_PCI_BUS_BASE + dev;
    case CU_DEVICE_ATTRIBUTE_PCI_DEVICE_ID: return 0;
    case CU_DEVICE_ATTRIBUTE_PCI_DOMAIN_ID: return 0;
    case CU_DEVICE_ATTRIBUTE_MAX_THREADS_PER_MULTIPROCESSOR: return 2048;
    case CU_DEVICE_ATTRIBUTE_ASYNC_ENGINE_COUNT: return 2;
    case CU_DEVICE_ATTRIBUTE_UNIFIED_ADDRESSING: return 1;
    case CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR: return 9;
    case CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR: return 0;
    case CU_DEVICE_ATTRIBUTE_STREAM_PRIORITIES_SUPPORTED: return 1;
    case CU_DEVICE_ATTRIBUTE_CAN_USE_HOST_POINTER_FOR_REGISTERED_MEM: return 1;
    case CU_DEVICE_ATTRIBUTE_HOST_REGISTER_SUPPORTED: return 1;
    case CU_DEVICE_ATTRIBUTE_READ_ONLY_HOST_REGISTER_SUPPORTED: return 1;
    default: return 0;
    }
}

CUresult cuDeviceGetAttribute(int *pi, CUdevice_attribute attrib, CUdevice dev) {
    if (pi == NULL || (int) attrib <= 0 || attrib >= CU_DEVICE_ATTRIBUTE_MAX) {
        return CUDA_ERROR_INVALID_VALUE;
    }
    CUresult rc = device_check(dev);
    if (rc == CUDA_SUCCESS) {
        *pi = attribute(attrib, dev);
    }
    return rc;
}

CUresult cuDeviceTotalMem_v2(size_t *bytes, CUdevice dev) {
    if (bytes == NULL) {
        return CUDA_ERROR_INVALID_VALUE;
    }
    CUresult rc = device_check(dev);
    if (rc == CUDA_SUCCESS) {
        *bytes = emu.device_bytes;
    }
    return rc;
}

CUresult cuDeviceComputeCapability(int *major, int *minor, CUdevice dev) {
    if (major == NULL || minor == NULL) {
        return CUDA_ERROR_INVALID_VALUE;
    }
    CUresult rc = device_check(dev);
    if (rc == CUDA_SUCCESS) {
        *major = 9;
        *minor = 0;
    }
    return rc;
}

/* A fixed UUID per ordinal: "LMC4J-EMU" then the ordinal, so logs tell emulated devices apart. */
CUresult cuDeviceGetUuid(CUuuid *uuid, CUdevice dev) {
    if (uuid == NULL) {
        return CUDA_ERROR_INVALID_VALUE;
    }
    CUresult rc = device_check(dev);
    if (rc == CUDA_SUCCESS) {
        static const char prefix[15] = "LMC4J-EMU-GPU-";
        memcpy(uuid->bytes, prefix, sizeof prefix);
        uuid->bytes[15] = (char) dev;
    }
    return rc;
}

CUresult cuDeviceGetUuid_v2(CUuuid *uuid, CUdevice dev) {
    return cuDeviceGetUuid(uuid, dev);
}

CUresult cuDeviceGetPCIBusId(char *pciBusId, int len, CUdevice dev) {
    if (pciBusId == NULL || len <= 0) {
        return CUDA_ERROR_INVALID_VALUE;
    }
    CUresult rc = device_check(dev);
    if (rc == CUDA_SUCCESS) {
        snprintf(pciBusId, (size_t) len, "0000:%02x:00.0", EMU_PCI_BUS_BASE + dev);
    }
    return rc;
}

CUresult cuDeviceGetByPCIBusId(CUdevice *dev, const char *pciBusId) {
    if (dev == NULL || pciBusId == NULL) {
        return CUDA_ERROR_INVALID_VALUE;
    }
    unsigned domain = 0, bus = 0, slot = 0, function = 0;
    if (sscanf(pciBusId, "%x:%x:%x.%x", &domain, &bus, &slot, &function) != 4
        && sscanf(pciBusId, "%x:%x.%x", &bus, &slot, &function) != 3) {
        return CUDA_ERROR_INVALID_VALUE;
    }
    int ordinal = (int) bus - EMU_PCI_BUS_BASE;
    CUresult rc = device_check(ordinal);
    if (rc == CUDA_SUCCESS && (domain != 0 || slot != 0 || function != 0)) {
        rc = CUDA_ERROR_INVALID_DEVICE;
    }
    if (rc == CUDA_SUCCESS) {
        *dev = ordinal;
    }
    return rc;
}
