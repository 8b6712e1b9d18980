/*
 * Process-wide state, cuInit and handle serials.
 *
 * cuInit reads the environment once (the device count, the memory per device, the stream delay),
 * reserves the device address range and creates the primary contexts' handles; every other call
 * returns CUDA_ERROR_NOT_INITIALIZED before it, as the real driver does. A setting that does not
 * parse fails cuInit with a line on stderr rather than being silently replaced by a default: a
 * test instrument must not run a different experiment from the one asked for.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "emu.h"

emu_core emu = {
    .lock = PTHREAD_MUTEX_INITIALIZER,
    .cv = PTHREAD_COND_INITIALIZER,
};

static atomic_uint delay_us;

#define HANDLE_KIND_SHIFT 40
#define HANDLE_SERIAL_SHIFT 4

/* Reads an integer setting in [lo, hi]; 0 and *out untouched when unset, -1 when it does not parse. */
static int env_setting(const char *name, long lo, long hi, long *out) {
    const char *v = getenv(name);
    if (v == NULL || *v == '\0') {
        return 0;
    }
    char *end;
    errno = 0;
    long n = strtol(v, &end, 10);
    if (errno != 0 || *end != '\0' || n < lo || n > hi) {
        fprintf(stderr, "cuda-emulator: %s=%s is not an integer in [%ld, %ld]; cuInit fails\n", name, v, lo, hi);
        return -1;
    }
    *out = n;
    return 0;
}

static CUresult init_locked(void) {
    long devices = 1, memory_gb = 64, delay = 0;
    if (env_setting("LMCACHE4J_CUDA_EMULATOR_DEVICES", 0, EMU_MAX_DEVICES, &devices) != 0
        || env_setting("LMCACHE4J_CUDA_EMULATOR_MEMORY_GB", 1, 4096, &memory_gb) != 0
        || env_setting("LMCACHE4J_CUDA_EMULATOR_DELAY_US", 0, 60000000, &delay) != 0) {
        return CUDA_ERROR_INVALID_VALUE;
    }
    if (devices == 0) {
        return CUDA_ERROR_NO_DEVICE; /* what a machine with a driver and no GPU answers */
    }
    uint64_t bytes = (uint64_t) memory_gb << 30;
    CUresult rc = emu_memory_reserve((int) devices, bytes);
    if (rc != CUDA_SUCCESS) {
        return rc;
    }
    emu.devices = (int) devices;
    emu.device_bytes = bytes;
    atomic_store(&delay_us, (unsigned) delay);
    emu_primaries_init_locked();
    return CUDA_SUCCESS;
}

CUresult cuInit(unsigned int Flags) {
    if (Flags != 0) {
        return CUDA_ERROR_INVALID_VALUE;
    }
    EMU_LOCK();
    CUresult rc = CUDA_SUCCESS;
    if (!emu.initialized) {
        rc = init_locked();
        emu.initialized = rc == CUDA_SUCCESS;
        emu.init_error = rc;
    }
    EMU_UNLOCK();
    return rc;
}

CUresult cuDriverGetVersion(int *driverVersion) {
    if (driverVersion == NULL) {
        return CUDA_ERROR_INVALID_VALUE;
    }
    *driverVersion = 13000;
    return CUDA_SUCCESS;
}

CUresult emu_ready_locked(void) {
    if (emu.initialized) {
        return CUDA_SUCCESS;
    }
    return emu.init_error != CUDA_SUCCESS ? emu.init_error : CUDA_ERROR_NOT_INITIALIZED;
}

CUresult emu_ready(void) {
    EMU_LOCK();
    CUresult rc = emu_ready_locked();
    EMU_UNLOCK();
    return rc;
}

uintptr_t emu_handle_new_locked(enum emu_kind kind) {
    emu.serial++;
    return ((uintptr_t) kind << HANDLE_KIND_SHIFT) | ((uintptr_t) emu.serial << HANDLE_SERIAL_SHIFT);
}

int emu_handle_issued_locked(uintptr_t handle, enum emu_kind kind) {
    uintptr_t serial = (handle & (((uintptr_t) 1 << HANDLE_KIND_SHIFT) - 1)) >> HANDLE_SERIAL_SHIFT;
    return handle >> HANDLE_KIND_SHIFT == (uintptr_t) kind && (handle & 15) == 0 && serial >= 1
           && serial <= emu.serial;
}

uint64_t emu_id_new_locked(void) {
    return ++emu.next_id;
}

void emu_wait_locked(void) {
    pthread_cond_wait(&emu.cv, &emu.lock);
}

void emu_broadcast_locked(void) {
    pthread_cond_broadcast(&emu.cv);
}

uint32_t emu_delay_us(void) {
    return atomic_load(&delay_us);
}

void emu_sleep_us(uint32_t us) {
    struct timespec t = {.tv_sec = us / 1000000, .tv_nsec = (long) (us % 1000000) * 1000};
    while (nanosleep(&t, &t) != 0 && errno == EINTR) {
    }
}

void lmcache4j_cuda_emulator_set_delay_us(uint32_t us) {
    atomic_store(&delay_us, us);
}

uint32_t lmcache4j_cuda_emulator_delay_us(void) {
    return atomic_load(&delay_us);
}
