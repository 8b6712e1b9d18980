/*
 * lmcache4j_cuda_emulator_counts: the live resources, counted from the registries themselves
 * (so a count can never drift from what exists), and the running totals.
 *
 * The caller's struct_size decides how much is written, so an older caller with a shorter struct
 * and a newer emulator (or the reverse) agree on the common prefix.
 */
#include <stdio.h>
#include <string.h>

#include "emu.h"

int lmcache4j_cuda_emulator_counts(struct lmcache4j_cuda_emulator_counts *out) {
    if (out == NULL || out->struct_size < 2 * sizeof(uint32_t)) {
        return -1;
    }
    struct lmcache4j_cuda_emulator_counts c;
    memset(&c, 0, sizeof c);
    EMU_LOCK();
    emu_streams_reap_locked();
    if (emu.initialized) {
        emu_ctx_count_locked(&c.contexts, &c.primary_retains);
        emu_allocs_count_locked(&c.device_allocations, &c.device_bytes);
        emu_host_count_locked(&c.host_registrations, &c.host_allocations);
        c.streams = emu_streams_count_locked();
        c.events = emu_events_count_locked();
        c.modules = emu_modules_count_locked();
    }
    c.faults = emu.totals.faults;
    c.launches = emu.totals.launches;
    c.copies = emu.totals.copies;
    c.unsupported_calls = emu.totals.unsupported_calls;
    c.reclaimed_at_context_destroy = emu.totals.reclaimed;
    EMU_UNLOCK();
    size_t n = out->struct_size < sizeof c ? out->struct_size : sizeof c;
    c.struct_size = (uint32_t) n;
    c.version = LMCACHE4J_CUDA_EMULATOR_COUNTS_VERSION;
    memcpy(out, &c, n);
    return 0;
}

/* What every stub of unsupported.c returns, after saying so once per function. */
int emu_unsupported(const char *name, atomic_int *once) {
    if (atomic_exchange(once, 1) == 0) {
        fprintf(stderr, "cuda-emulator: %s is not emulated\n", name);
    }
    EMU_LOCK();
    emu.totals.unsupported_calls++;
    EMU_UNLOCK();
    return CUDA_ERROR_NOT_SUPPORTED;
}
