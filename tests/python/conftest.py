"""The Python suite runs against the C ABI in this process's own JVM.

libjsig must be preloaded (see lmcache4j.jsig): ./test.sh sets LD_PRELOAD; a plain
``python -m pytest tests/python`` restarts itself with it here, before anything starts the JVM.
"""

import faulthandler
import os
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "src"))

from lmcache4j import jsig  # noqa: E402


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config):
    """Restarts pytest with libjsig preloaded when it is not (with the terminal given back first)."""
    if not jsig.is_loaded():
        capture = config.pluginmanager.getplugin("capturemanager")
        if capture is not None:
            capture.stop_global_capturing()
        jsig.reexec_with_libjsig()

# A hermetic configuration: settings come from the tests, not from the developer's environment.
for name in [n for n in os.environ if n.startswith("LMCACHE_")]:
    del os.environ[name]

# The CPU-run CUDA driver (test_cuda.py, when LMCACHE4J_CUDA_DRIVER names it) reads its device count
# once, at cuInit: two devices for the whole run, set before anything loads the driver or starts the JVM.
os.environ["LMCACHE4J_CUDA_EMULATOR_DEVICES"] = "2"

import numpy as np  # noqa: E402

from lmcache4j import Engine, KvLayout  # noqa: E402

SMALL_POOL = {"chunk_size": 256, "max_local_cpu_size": 0.05}


def random_caches(layout: KvLayout, seed: int = 0, dtype=np.uint16) -> list:
    rng = np.random.default_rng(seed)
    info = np.iinfo(dtype) if np.issubdtype(dtype, np.integer) else None
    if info is not None:
        return [rng.integers(info.min, info.max, layout.cache_shape, dtype=dtype, endpoint=True)
                for _ in range(layout.num_layers)]
    return [rng.standard_normal(layout.cache_shape).astype(dtype) for _ in range(layout.num_layers)]


def rows(caches: list, layout: KvLayout, slots) -> np.ndarray:
    """The KV rows of the given slots, every layer and plane: what store reads and retrieve writes."""
    out = []
    for c in caches:
        if layout.kv_format == "flash_attn":
            out.append(c.reshape(2, -1, layout.num_kv_heads * layout.head_size)[:, slots])
        elif layout.kv_format == "blocks_first":
            v = c.reshape(layout.num_blocks, 2, layout.block_size, -1).transpose(1, 0, 2, 3)
            out.append(v.reshape(2, -1, v.shape[-1])[:, slots])
        else:
            out.append(c.reshape(-1, layout.head_size)[slots])
    return np.stack(out)


def zero_rows(caches: list, layout: KvLayout, slots) -> None:
    for c in caches:
        if layout.kv_format == "flash_attn":
            c.reshape(2, -1, layout.num_kv_heads * layout.head_size)[:, slots] = 0
        elif layout.kv_format == "blocks_first":
            for s in np.asarray(slots):
                c[s // layout.block_size, :, s % layout.block_size] = 0
        else:
            c.reshape(-1, layout.head_size)[slots] = 0


@pytest.fixture(autouse=True, scope="session")
def faulthandler_is_on():
    """The suite runs with faulthandler enabled, as pytest does by default: the JVM must survive it."""
    assert faulthandler.is_enabled()
    yield


@pytest.fixture
def open_engine():
    """Opens engines; at the end, checks none leaked a lease or a pin, and closes them."""
    engines = []

    def make(layout: KvLayout, config=None, **kwargs) -> Engine:
        e = Engine(SMALL_POOL if config is None else config, layout, **kwargs)
        engines.append(e)
        return e

    yield make
    for e in engines:
        if not e.closed:
            s = e.stats()
            assert (s.leases, s.pins) == (0, 0), f"leaked leases or pins: {s}"
            e.close()
