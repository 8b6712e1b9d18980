"""LMCache4j from Python: the engine over its C ABI (liblmcache4j.so), and a vLLM KV connector.

    from lmcache4j import Engine, KvLayout
    layout = KvLayout(num_layers=32, num_kv_heads=8, head_size=128, block_size=16, num_blocks=4096,
                      dtype="bfloat16", kv_format="flash_attn")
    with Engine(config={"max_local_cpu_size": 20}, layout=layout) as engine:
        engine.register_kv_caches(layer_arrays)        # numpy arrays or torch tensors, one per layer
        hit = engine.lookup(tokens)
        loaded = engine.retrieve(tokens, slot_mapping)
        stored = engine.store(tokens, slot_mapping)

vLLM: ``--kv-transfer-config '{"kv_connector":"LMCache4jConnectorV1",
"kv_connector_module_path":"lmcache4j.vllm","kv_role":"kv_both"}'`` (see docs/vllm.md).
"""

from .engine import Engine, EngineStats
from .errors import (EngineClosedError, EngineMemoryError, EngineStateError, InternalError, InvalidArgumentError,
                     JvmError, LMCache4jError, NativeLibraryError, UnsupportedError)
from .layout import KvLayout
from .prefetch import Prefetch, PrefetchState

__version__ = "0.1.0"

__all__ = ["Engine", "EngineStats", "KvLayout", "LMCache4jError", "InvalidArgumentError", "EngineStateError",
           "EngineClosedError", "JvmError", "EngineMemoryError", "UnsupportedError", "InternalError",
           "NativeLibraryError", "Prefetch", "PrefetchState", "__version__"]
