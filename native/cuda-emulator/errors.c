/*
 * cuGetErrorName and cuGetErrorString for every CUresult of CUDA 13's cuda.h (101 values).
 *
 * The table is written by hand so that the build without cuda.h has it too; built against
 * cuda.h, a static assertion checks each number against the header's enum, and the tests check
 * that every value the header lists has a name here. The strings are short, in the real driver's
 * style ("invalid argument", "an illegal memory access was encountered").
 */
#include <stddef.h>

#include "emu.h"

#define CUDA_ERRORS(E) \
    E(CUDA_SUCCESS, 0, "no error") \
    E(CUDA_ERROR_INVALID_VALUE, 1, "invalid argument") \
    E(CUDA_ERROR_OUT_OF_MEMORY, 2, "out of memory") \
    E(CUDA_ERROR_NOT_INITIALIZED, 3, "initialization error") \
    E(CUDA_ERROR_DEINITIALIZED, 4, "driver shutting down") \
    E(CUDA_ERROR_PROFILER_DISABLED, 5, "profiler disabled while using external profiling tool") \
    E(CUDA_ERROR_PROFILER_NOT_INITIALIZED, 6, "profiler not initialized: call cudaProfilerInitialize()") \
    E(CUDA_ERROR_PROFILER_ALREADY_STARTED, 7, "profiler already started") \
    E(CUDA_ERROR_PROFILER_ALREADY_STOPPED, 8, "profiler already stopped") \
    E(CUDA_ERROR_STUB_LIBRARY, 34, "CUDA driver is a stub library") \
    E(CUDA_ERROR_CALL_REQUIRES_NEWER_DRIVER, 36, "API call requires a newer CUDA driver") \
    E(CUDA_ERROR_DEVICE_UNAVAILABLE, 46, "CUDA-capable device(s) is/are busy or unavailable") \
    E(CUDA_ERROR_NO_DEVICE, 100, "no CUDA-capable device is detected") \
    E(CUDA_ERROR_INVALID_DEVICE, 101, "invalid device ordinal") \
    E(CUDA_ERROR_DEVICE_NOT_LICENSED, 102, "device doesn't have valid Grid license") \
    E(CUDA_ERROR_INVALID_IMAGE, 200, "device kernel image is invalid") \
    E(CUDA_ERROR_INVALID_CONTEXT, 201, "invalid device context") \
    E(CUDA_ERROR_CONTEXT_ALREADY_CURRENT, 202, "context already current") \
    E(CUDA_ERROR_MAP_FAILED, 205, "mapping of buffer object failed") \
    E(CUDA_ERROR_UNMAP_FAILED, 206, "unmapping of buffer object failed") \
    E(CUDA_ERROR_ARRAY_IS_MAPPED, 207, "array is mapped") \
    E(CUDA_ERROR_ALREADY_MAPPED, 208, "resource already mapped") \
    E(CUDA_ERROR_NO_BINARY_FOR_GPU, 209, "no kernel image is available for execution on the device") \
    E(CUDA_ERROR_ALREADY_ACQUIRED, 210, "resource already acquired") \
    E(CUDA_ERROR_NOT_MAPPED, 211, "resource not mapped") \
    E(CUDA_ERROR_NOT_MAPPED_AS_ARRAY, 212, "resource not mapped as array") \
    E(CUDA_ERROR_NOT_MAPPED_AS_POINTER, 213, "resource not mapped as pointer") \
    E(CUDA_ERROR_ECC_UNCORRECTABLE, 214, "uncorrectable ECC error encountered") \
    E(CUDA_ERROR_UNSUPPORTED_LIMIT, 215, "limit is not supported on this architecture") \
    E(CUDA_ERROR_CONTEXT_ALREADY_IN_USE, 216, "exclusive-thread device already in use by a different thread") \
    E(CUDA_ERROR_PEER_ACCESS_UNSUPPORTED, 217, "peer access is not supported between these two devices") \
    E(CUDA_ERROR_INVALID_PTX, 218, "a PTX JIT compilation failed") \
    E(CUDA_ERROR_INVALID_GRAPHICS_CONTEXT, 219, "invalid OpenGL or DirectX context") \
    E(CUDA_ERROR_NVLINK_UNCORRECTABLE, 220, "uncorrectable NVLink error detected during the execution") \
    E(CUDA_ERROR_JIT_COMPILER_NOT_FOUND, 221, "PTX JIT compiler library not found") \
    E(CUDA_ERROR_UNSUPPORTED_PTX_VERSION, 222, "the provided PTX was compiled with an unsupported toolchain.") \
    E(CUDA_ERROR_JIT_COMPILATION_DISABLED, 223, "PTX JIT compilation was disabled") \
    E(CUDA_ERROR_UNSUPPORTED_EXEC_AFFINITY, 224, "the provided execution affinity is not supported") \
    E(CUDA_ERROR_UNSUPPORTED_DEVSIDE_SYNC, 225, "the provided PTX contains unsupported call to cudaDeviceSynchronize") \
    E(CUDA_ERROR_CONTAINED, 226, "an exception occurred on the device that is now contained by the GPU's error containment capability") \
    E(CUDA_ERROR_INVALID_SOURCE, 300, "device kernel image is invalid") \
    E(CUDA_ERROR_FILE_NOT_FOUND, 301, "file not found") \
    E(CUDA_ERROR_SHARED_OBJECT_SYMBOL_NOT_FOUND, 302, "shared object symbol not found") \
    E(CUDA_ERROR_SHARED_OBJECT_INIT_FAILED, 303, "shared object initialization failed") \
    E(CUDA_ERROR_OPERATING_SYSTEM, 304, "OS call failed or operation not supported on this OS") \
    E(CUDA_ERROR_INVALID_HANDLE, 400, "invalid resource handle") \
    E(CUDA_ERROR_ILLEGAL_STATE, 401, "the operation cannot be performed in the present state") \
    E(CUDA_ERROR_LOSSY_QUERY, 402, "attempted introspection would be semantically lossy") \
    E(CUDA_ERROR_NOT_FOUND, 500, "named symbol not found") \
    E(CUDA_ERROR_NOT_READY, 600, "device not ready") \
    E(CUDA_ERROR_ILLEGAL_ADDRESS, 700, "an illegal memory access was encountered") \
    E(CUDA_ERROR_LAUNCH_OUT_OF_RESOURCES, 701, "too many resources requested for launch") \
    E(CUDA_ERROR_LAUNCH_TIMEOUT, 702, "the launch timed out and was terminated") \
    E(CUDA_ERROR_LAUNCH_INCOMPATIBLE_TEXTURING, 703, "launch uses incompatible texturing mode") \
    E(CUDA_ERROR_PEER_ACCESS_ALREADY_ENABLED, 704, "peer access is already enabled") \
    E(CUDA_ERROR_PEER_ACCESS_NOT_ENABLED, 705, "peer access has not been enabled") \
    E(CUDA_ERROR_PRIMARY_CONTEXT_ACTIVE, 708, "cannot set while device is active in this process") \
    E(CUDA_ERROR_CONTEXT_IS_DESTROYED, 709, "context is destroyed") \
    E(CUDA_ERROR_ASSERT, 710, "device-side assert triggered") \
    E(CUDA_ERROR_TOO_MANY_PEERS, 711, "peer mapping resources exhausted") \
    E(CUDA_ERROR_HOST_MEMORY_ALREADY_REGISTERED, 712, "part or all of the requested memory range is already mapped") \
    E(CUDA_ERROR_HOST_MEMORY_NOT_REGISTERED, 713, "pointer does not correspond to a registered memory region") \
    E(CUDA_ERROR_HARDWARE_STACK_ERROR, 714, "hardware stack error") \
    E(CUDA_ERROR_ILLEGAL_INSTRUCTION, 715, "an illegal instruction was encountered") \
    E(CUDA_ERROR_MISALIGNED_ADDRESS, 716, "misaligned address") \
    E(CUDA_ERROR_INVALID_ADDRESS_SPACE, 717, "operation not supported on global/shared address space") \
    E(CUDA_ERROR_INVALID_PC, 718, "invalid program counter") \
    E(CUDA_ERROR_LAUNCH_FAILED, 719, "unspecified launch failure") \
    E(CUDA_ERROR_COOPERATIVE_LAUNCH_TOO_LARGE, 720, "too many blocks in cooperative launch") \
    E(CUDA_ERROR_TENSOR_MEMORY_LEAK, 721, "tensor memory not completely freed") \
    E(CUDA_ERROR_NOT_PERMITTED, 800, "operation not permitted") \
    E(CUDA_ERROR_NOT_SUPPORTED, 801, "operation not supported") \
    E(CUDA_ERROR_SYSTEM_NOT_READY, 802, "system not yet initialized") \
    E(CUDA_ERROR_SYSTEM_DRIVER_MISMATCH, 803, "system has unsupported display driver / cuda driver combination") \
    E(CUDA_ERROR_COMPAT_NOT_SUPPORTED_ON_DEVICE, 804, "forward compatibility was attempted on non supported HW") \
    E(CUDA_ERROR_MPS_CONNECTION_FAILED, 805, "MPS client failed to connect to the MPS control daemon or the MPS server") \
    E(CUDA_ERROR_MPS_RPC_FAILURE, 806, "the remote procedural call between the MPS server and the MPS client failed") \
    E(CUDA_ERROR_MPS_SERVER_NOT_READY, 807, "MPS server is not ready to accept new MPS client requests") \
    E(CUDA_ERROR_MPS_MAX_CLIENTS_REACHED, 808, "the hardware resources required to create MPS client have been exhausted") \
    E(CUDA_ERROR_MPS_MAX_CONNECTIONS_REACHED, 809, "the hardware resources required to support device connections have been exhausted") \
    E(CUDA_ERROR_MPS_CLIENT_TERMINATED, 810, "the MPS client has been terminated by the server") \
    E(CUDA_ERROR_CDP_NOT_SUPPORTED, 811, "is using CUDA Dynamic Parallelism, but the current configuration, like MPS, does not support it") \
    E(CUDA_ERROR_CDP_VERSION_MISMATCH, 812, "unsupported interaction between different versions of CUDA Dynamic Parallelism") \
    E(CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED, 900, "operation not permitted when stream is capturing") \
    E(CUDA_ERROR_STREAM_CAPTURE_INVALIDATED, 901, "operation failed due to a previous error during capture") \
    E(CUDA_ERROR_STREAM_CAPTURE_MERGE, 902, "operation would result in a merge of separate capture sequences") \
    E(CUDA_ERROR_STREAM_CAPTURE_UNMATCHED, 903, "capture was not ended in the same stream as it began") \
    E(CUDA_ERROR_STREAM_CAPTURE_UNJOINED, 904, "capturing stream has unjoined work") \
    E(CUDA_ERROR_STREAM_CAPTURE_ISOLATION, 905, "dependency created on uncaptured work in another stream") \
    E(CUDA_ERROR_STREAM_CAPTURE_IMPLICIT, 906, "operation would make the legacy stream depend on a capturing blocking stream") \
    E(CUDA_ERROR_CAPTURED_EVENT, 907, "operation not permitted on an event last recorded in a capturing stream") \
    E(CUDA_ERROR_STREAM_CAPTURE_WRONG_THREAD, 908, "attempt to terminate a thread-local capture sequence from another thread") \
    E(CUDA_ERROR_TIMEOUT, 909, "wait operation timed out") \
    E(CUDA_ERROR_GRAPH_EXEC_UPDATE_FAILURE, 910, "the graph update was not performed because it included changes which violated constraints specific to instantiated graph update") \
    E(CUDA_ERROR_EXTERNAL_DEVICE, 911, "an async error has occurred in a device outside of CUDA") \
    E(CUDA_ERROR_INVALID_CLUSTER_SIZE, 912, "a kernel launch error has occurred due to cluster misconfiguration") \
    E(CUDA_ERROR_FUNCTION_NOT_LOADED, 913, "the function handle is not loaded when calling an API that requires a loaded function") \
    E(CUDA_ERROR_INVALID_RESOURCE_TYPE, 914, "one or more resources passed in are not valid resource types for the operation") \
    E(CUDA_ERROR_INVALID_RESOURCE_CONFIGURATION, 915, "one or more resources are insufficient or non-applicable for the operation") \
    E(CUDA_ERROR_KEY_ROTATION, 916, "an error happened during the key rotation sequence") \
    E(CUDA_ERROR_UNKNOWN, 999, "unknown error")

typedef struct error_entry {
    int value;
    const char *name;
    const char *text;
} error_entry;

#define ENTRY(name, value, text) {value, #name, text},
static const error_entry errors[] = {CUDA_ERRORS(ENTRY)};

#ifdef EMU_USE_CUDA_H
#define CHECK_VALUE(name, value, text) _Static_assert((int) name == value, #name " differs from cuda.h");
CUDA_ERRORS(CHECK_VALUE)
#endif

static const error_entry *find(CUresult error) {
    for (size_t i = 0; i < sizeof errors / sizeof *errors; i++) {
        if (errors[i].value == (int) error) {
            return &errors[i];
        }
    }
    return NULL;
}

CUresult cuGetErrorName(CUresult error, const char **pStr) {
    if (pStr == NULL) {
        return CUDA_ERROR_INVALID_VALUE;
    }
    const error_entry *e = find(error);
    *pStr = e != NULL ? e->name : NULL;
    return e != NULL ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE;
}

CUresult cuGetErrorString(CUresult error, const char **pStr) {
    if (pStr == NULL) {
        return CUDA_ERROR_INVALID_VALUE;
    }
    const error_entry *e = find(error);
    *pStr = e != NULL ? e->text : NULL;
    return e != NULL ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE;
}
