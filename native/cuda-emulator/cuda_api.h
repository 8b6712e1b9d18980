/*
 * Where the emulator's CUDA types and prototypes come from.
 *
 * With cuda.h (EMU_USE_CUDA_H, set by emulator.mk when $(CUDA_HOME)/include/cuda.h exists) every
 * entry point is compiled against the real prototype. __CUDA_API_VERSION_INTERNAL is how NVIDIA
 * builds its own driver: the header then maps no name (cuMemAlloc stays cuMemAlloc, so each file
 * spells out the exported cuMemAlloc_v2) and also declares the older names that JCuda 12.6 still
 * binds (cuCtxCreate_v2, cuDeviceGetUuid, cuEventElapsedTime), so they are checked too.
 *
 * Without it, cuda_decls.h declares the few types, values and prototypes the emulator uses.
 * Either way the declarations get default visibility: the library is built -fvisibility=hidden,
 * so exactly the cu* entry points are exported, and nothing internal.
 */
#ifndef EMU_CUDA_API_H
#define EMU_CUDA_API_H

#pragma GCC visibility push(default)
#ifdef EMU_USE_CUDA_H
#define __CUDA_API_VERSION_INTERNAL 1
#include <cuda.h>
#else
#include "cuda_decls.h"
#endif
#include "lmcache4j_cuda_emulator.h"
#pragma GCC visibility pop

#endif
