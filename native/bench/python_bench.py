"""Python's lmcache4j against the Java API, in the same process, JVM and run.

  1. a lookup of 8k cached tokens: Engine.lookup (numpy int32 tokens) vs CacheEngine.lookup;
  2. store and retrieve bandwidth of 2048 tokens of a Mistral-7B layout (32 x 8 x 128 bfloat16,
     16-token blocks in shuffled order, numpy paged caches) vs the Java API on the same engine.

Rounds alternate between the two; medians are reported. The Java baselines run through
native/build/libl4jbench.so (make -C native bench). From the repository root:

  LD_PRELOAD=$JAVA_HOME/lib/libjsig.so PYTHONPATH=src python3 native/bench/python_bench.py [--rounds 7] [--json]
"""

import argparse
import ctypes
import json
import os
import statistics
import time

import numpy as np

from lmcache4j import Engine, KvLayout

HERE = os.path.dirname(os.path.abspath(__file__))


def java_baselines():
    lib = ctypes.CDLL(os.path.join(HERE, "..", "build", "libl4jbench.so"))
    lib.l4jb_java_lookup_nanos.argtypes = [ctypes.c_uint64, ctypes.c_void_p, ctypes.c_int32, ctypes.c_int32,
                                           ctypes.POINTER(ctypes.c_int64)]
    lib.l4jb_java_transfer_nanos.argtypes = [ctypes.c_uint64, ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p,
                                             ctypes.c_int32, ctypes.c_int32, ctypes.POINTER(ctypes.c_int64)]
    return lib


def java_nanos(fn, *args):
    out = ctypes.c_int64()
    if fn(*args, ctypes.byref(out)) != 0:
        raise RuntimeError("the Java baseline failed")
    return out.value


def lookup_overhead(lib, rounds, iters=2000):
    n = 8192
    layout = KvLayout(1, 1, 64, 16, 1024, "bfloat16", "flash_attn")
    with Engine({"chunk_size": 256, "max_local_cpu_size": 0.1}, layout) as engine:
        engine.register_kv_caches([np.zeros(layout.cache_shape, np.uint16)])
        tokens = ((np.arange(n) * 7919) % 32000).astype(np.int32)
        engine.store(tokens, np.arange(n) * 2)
        handle = engine._h()
        java, python = [], []
        for r in range(rounds + 3):  # three warm-up rounds
            j = java_nanos(lib.l4jb_java_lookup_nanos, handle, tokens.ctypes.data, n, iters) / 1e3 / iters
            t0 = time.perf_counter_ns()
            for _ in range(iters):
                hit = engine.lookup(tokens)
            p = (time.perf_counter_ns() - t0) / 1e3 / iters
            assert hit == n
            if r >= 3:
                java.append(j)
                python.append(p)
        return {"tokens": n, "java_us": statistics.median(java), "python_us": statistics.median(python)}


def bandwidth(lib, rounds, iters=3):
    n, blocks = 2048, 256
    layout = KvLayout(32, 8, 128, 16, blocks, "bfloat16", "flash_attn")
    caches = [np.full(layout.cache_shape, l + 1, dtype=np.uint16) for l in range(layout.num_layers)]
    order = np.random.default_rng(7).permutation(blocks)
    slots = (order[:, None] * 16 + np.arange(16)).reshape(-1)[:n].astype(np.int64)
    tokens = np.arange(11, 11 + n, dtype=np.int32)
    size = n * layout.token_bytes
    results = {}
    with Engine({"chunk_size": 256, "max_local_cpu_size": 1.0}, layout) as engine:
        engine.register_kv_caches(caches)
        handle = engine._h()
        for op, name in ((0, "store"), (1, "retrieve")):
            if op == 1:
                engine.store(tokens, slots)
            java, python = [], []
            for r in range(rounds + 1):  # one warm-up round
                j = size * iters / java_nanos(lib.l4jb_java_transfer_nanos, handle, op, tokens.ctypes.data,
                                              slots.ctypes.data, n, iters)
                total = 0
                for _ in range(iters):
                    if op == 0:
                        engine.clear()
                    t0 = time.perf_counter_ns()
                    moved = engine.store(tokens, slots) if op == 0 else engine.retrieve(tokens, slots)
                    total += time.perf_counter_ns() - t0
                    assert moved == n
                if r >= 1:
                    java.append(j)
                    python.append(size * iters / total)
            results[name] = {"bytes": size, "java_gbps": statistics.median(java),
                             "python_gbps": statistics.median(python)}
    return results


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    lib = java_baselines()
    result = {"lookup": lookup_overhead(lib, args.rounds), **bandwidth(lib, args.rounds)}
    if args.json:
        print(json.dumps(result, indent=2))
        return
    lk = result["lookup"]
    print(f"lookup of {lk['tokens']} tokens (cached), median us/call: java API {lk['java_us']:.2f}   "
          f"Python {lk['python_us']:.2f}   overhead {lk['python_us'] - lk['java_us']:.2f}")
    for name in ("store", "retrieve"):
        r = result[name]
        print(f"{name:<8} 2048 tokens ({r['bytes'] >> 20} MiB), median GB/s: java API {r['java_gbps']:.2f}   "
              f"Python {r['python_gbps']:.2f}   ratio {r['python_gbps'] / r['java_gbps']:.2f}")


if __name__ == "__main__":
    main()
