/*
 * A client's paged caches in CUDA device memory (docs/server.md, "Device caches over CUDA IPC"):
 * the client asks its CUDA driver, for each layer, which allocation holds it
 * (cuMemGetAddressRange, in the caller's current context, as torch leaves it) and that
 * allocation's IPC handle (cuIpcGetMemHandle of its base), and sends them in one
 * REGISTER_DEVICE_CACHES; the server opens them and copies itself. The client never touches the
 * device bytes, so it needs only these calls and cuStreamSynchronize: before a STORE or RETRIEVE
 * it waits for the caller's stream (the KV a store reads is written, the blocks a retrieve
 * overwrites are no longer read), and the server answers once its own copies have landed.
 *
 * The driver is dlopen'ed on first use: LMCACHE4J_CUDA_DRIVER (the path the embedded engine's
 * probe reads, so tests run on the CPU-run driver), else libcuda.so.1. No CUDA header is needed.
 */
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client.h"

typedef int (*range_fn)(uint64_t *base, size_t *size, uint64_t ptr);
typedef int (*ipc_fn)(void *handle, uint64_t base);
typedef int (*sync_fn)(void *stream);
typedef int (*name_fn)(int rc, const char **name);
typedef int (*attribute_fn)(void *data, int attribute, uint64_t ptr);

#define CU_POINTER_ATTRIBUTE_DEVICE_ORDINAL 9

static struct {
    range_fn range;
    ipc_fn ipc;
    sync_fn sync;
    name_fn name;
    attribute_fn attribute;
    char error[320];
} driver;
static pthread_once_t driver_once = PTHREAD_ONCE_INIT;

static void *bind(void *lib, const char *symbol) {
    void *f = dlsym(lib, symbol);
    if (!f && !driver.error[0]) snprintf(driver.error, sizeof driver.error, "the CUDA driver lacks %s", symbol);
    return f;
}

static void load_driver(void) {
    const char *path = getenv("LMCACHE4J_CUDA_DRIVER");
    if (!path || !*path) path = "libcuda.so.1";
    void *lib = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!lib) {
        snprintf(driver.error, sizeof driver.error, "cannot load the CUDA driver %s: %s", path, dlerror());
        return;
    }
    void *range = bind(lib, "cuMemGetAddressRange_v2"), *ipc = bind(lib, "cuIpcGetMemHandle");
    void *sync = bind(lib, "cuStreamSynchronize"), *name = bind(lib, "cuGetErrorName");
    memcpy(&driver.range, &range, sizeof range);
    memcpy(&driver.ipc, &ipc, sizeof ipc);
    memcpy(&driver.sync, &sync, sizeof sync);
    memcpy(&driver.name, &name, sizeof name);
    void *attribute = bind(lib, "cuPointerGetAttribute");
    memcpy(&driver.attribute, &attribute, sizeof attribute);
}

static const char *cu_name(int rc) {
    const char *n = NULL;
    if (driver.name) driver.name(rc, &n);
    return n ? n : "an unknown CUresult";
}

static int driver_ready(void) {
    pthread_once(&driver_once, load_driver);
    return driver.error[0] ? lmc_fail(LMCACHE4J_ERR_UNSUPPORTED, "device caches: %s", driver.error) : LMCACHE4J_OK;
}

int lmc_device_of(uint64_t address) {
    pthread_once(&driver_once, load_driver);
    int ordinal = LMCACHE4J_DEVICE_HOST;
    if (driver.error[0] || driver.attribute(&ordinal, CU_POINTER_ATTRIBUTE_DEVICE_ORDINAL, address) != 0) {
        return LMCACHE4J_DEVICE_HOST; /* no driver, or memory it does not know: host memory */
    }
    return ordinal;
}

int lmc_device_body(const lmc_client *c, const uint64_t *layers, int32_t num_layers, int32_t device, lmc_out *body) {
    int rc = driver_ready();
    if (rc) return rc;
    uint64_t layer_bytes = (uint64_t)c->shape.planes * (uint64_t)c->shape.num_slots * (uint64_t)c->shape.row_bytes;
    lmc_out_u32(body, (uint32_t)device);
    lmc_out_u32(body, 0);
    lmc_out_u32(body, (uint32_t)num_layers);
    for (int32_t i = 0; i < num_layers; i++) {
        uint64_t base = 0;
        size_t size = 0;
        unsigned char handle[LMCACHE4J_WIRE_IPC_HANDLE_BYTES];
        int cu = driver.range(&base, &size, layers[i]);
        if (cu) {
            return lmc_fail(LMCACHE4J_ERR_INVALID_ARGUMENT, "layer %d cache at 0x%llx is not device memory of the "
                            "current CUDA context (cuMemGetAddressRange: %s)", (int)i, (unsigned long long)layers[i],
                            cu_name(cu));
        }
        int ordinal = lmc_device_of(layers[i]);
        if (ordinal != device) {
            return lmc_fail(LMCACHE4J_ERR_INVALID_ARGUMENT, "the caches were registered for CUDA device %d, but layer "
                            "%d at 0x%llx is memory of device %d", (int)device, (int)i, (unsigned long long)layers[i],
                            ordinal);
        }
        uint64_t offset = layers[i] - base;
        if (offset > size || size - offset < layer_bytes) {
            return lmc_fail(LMCACHE4J_ERR_INVALID_ARGUMENT, "layer %d cache at 0x%llx lies in a %zu-byte allocation "
                            "that ends %llu bytes after it; the layout needs %llu", (int)i,
                            (unsigned long long)layers[i], size, (unsigned long long)(size - offset),
                            (unsigned long long)layer_bytes);
        }
        if ((cu = driver.ipc(handle, base)) != 0) {
            return lmc_fail(LMCACHE4J_ERR_INVALID_ARGUMENT, "layer %d cache at 0x%llx cannot be shared with the "
                            "server (cuIpcGetMemHandle: %s)", (int)i, (unsigned long long)layers[i], cu_name(cu));
        }
        lmc_out_bytes(body, handle, sizeof handle);
        lmc_out_u64(body, offset);
        lmc_out_u64(body, size);
    }
    return body->failed ? lmc_fail(LMCACHE4J_ERR_NO_MEMORY, "out of memory describing device caches") : LMCACHE4J_OK;
}

int lmc_device_wait(uint64_t cuda_stream) {
    int rc = driver_ready();
    if (rc) return rc;
    int cu = driver.sync((void *)(uintptr_t)cuda_stream);
    return cu ? lmc_fail(LMCACHE4J_ERR_INVALID_ARGUMENT, "CUstream 0x%llx cannot be waited for before the server copies"
                         " (cuStreamSynchronize: %s)", (unsigned long long)cuda_stream, cu_name(cu))
              : LMCACHE4J_OK;
}
