/*
 * The instrument API of the CPU-run CUDA driver (native/build/cuda-emulator/libcuda.so.1): what a
 * test asks the emulator besides the CUDA driver calls themselves. The Java tests bind it through
 * java.lang.foreign and the Python tests through ctypes, so the struct is plain: a uint32_t size,
 * a uint32_t version, then uint64_t counters only (byte offsets below, little-endian, no padding).
 *
 * The emulator is a test instrument: it proves orchestration (calls, parameter packing, contexts,
 * streams, lifetimes), never speed. See docs/cuda-emulator.md.
 */
#ifndef LMCACHE4J_CUDA_EMULATOR_H
#define LMCACHE4J_CUDA_EMULATOR_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define LMCACHE4J_CUDA_EMULATOR_COUNTS_VERSION 1

/*
 * Live resources (what exists now) and totals (since the library was loaded). A struct tag, not
 * a typedef: the function that fills it has the same name.
 *
 *   off  field
 *     0  struct_size       in: sizeof the caller's struct; out: the bytes the emulator filled in
 *     4  version           out: LMCACHE4J_CUDA_EMULATOR_COUNTS_VERSION
 *     8  contexts          created contexts alive + primary contexts active
 *    16  primary_retains   cuDevicePrimaryCtxRetain calls not yet released, all devices
 *    24  device_allocations, 32 device_bytes (as requested to cuMemAlloc)
 *    40  streams           user-created streams not destroyed (the default streams are not counted)
 *    48  events, 56 modules, 64 host_registrations, 72 host_allocations (cuMemAllocHost/cuMemHostAlloc)
 *    80  faults            totals from here on: illegal addresses met by kernels and copies
 *    88  launches, 96 copies (memcpy calls accepted), 104 unsupported_calls (stubs called)
 *   112  reclaimed_at_context_destroy: resources a context still owned when it was destroyed, or
 *        when its primary context was reset or released to zero: leaks the engine did not clean up
 *   120  (end)
 */
struct lmcache4j_cuda_emulator_counts {
    uint32_t struct_size;
    uint32_t version;
    uint64_t contexts;
    uint64_t primary_retains;
    uint64_t device_allocations;
    uint64_t device_bytes;
    uint64_t streams;
    uint64_t events;
    uint64_t modules;
    uint64_t host_registrations;
    uint64_t host_allocations;
    uint64_t faults;
    uint64_t launches;
    uint64_t copies;
    uint64_t unsupported_calls;
    uint64_t reclaimed_at_context_destroy;
};

/*
 * Fills *out (at most out->struct_size bytes; set it to sizeof before the call). Returns 0, or -1
 * if out is NULL or out->struct_size is smaller than the first two fields. Works before cuInit.
 */
int lmcache4j_cuda_emulator_counts(struct lmcache4j_cuda_emulator_counts *out);

/* The delay each stream thread sleeps before each work op (copy, memset, kernel, host function). */
void lmcache4j_cuda_emulator_set_delay_us(uint32_t delay_us);
uint32_t lmcache4j_cuda_emulator_delay_us(void);

/* The last fault's message ("" if none): valid in the calling thread until its next call here. */
const char *lmcache4j_cuda_emulator_last_fault(void);

#ifdef __cplusplus
}
#endif

#endif
