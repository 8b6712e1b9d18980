"""The vLLM adapter (lmcache4j.vllm) where vLLM is not installed: in a child process whose ``vllm``
package is a stand-in with the shapes the adapter imports (KVConnectorBase_V1 and its role and
metadata, vLLM's KV event classes and KVConnectorKVEvents, the parallel-state queries), so that
its KV-event hooks run end to end: worker events in vLLM's classes, merged by the scheduler."""

import os
import subprocess
import sys
import textwrap

SRC = os.path.join(os.path.dirname(__file__), "..", "..", "src")

STANDINS = {
    "vllm/__init__.py": "",
    "vllm/distributed/__init__.py": "",
    "vllm/distributed/parallel_state.py": """
        from types import SimpleNamespace
        def get_pp_group():
            return SimpleNamespace(rank_in_group=0)
        def get_tensor_model_parallel_rank():
            return 0
    """,
    "vllm/distributed/kv_events.py": """
        from abc import ABC, abstractmethod
        class _Struct:  # msgspec.Struct-like: keyword fields, __struct_fields__, equality by fields
            __struct_fields__ = ()
            def __init__(self, **kw):
                assert set(kw) <= set(self.__struct_fields__), set(kw) - set(self.__struct_fields__)
                for f in self.__struct_fields__:
                    setattr(self, f, kw.get(f))
            def __eq__(self, other):
                return type(self) is type(other) and all(getattr(self, f) == getattr(other, f)
                                                         for f in self.__struct_fields__)
            def __hash__(self):
                return hash(tuple(tuple(v) if isinstance(v, list) else v
                                  for v in (getattr(self, f) for f in self.__struct_fields__)))
        class BlockStored(_Struct):
            __struct_fields__ = ("block_hashes", "parent_block_hash", "token_ids", "block_size", "lora_id",
                                 "medium", "lora_name")
        class BlockRemoved(_Struct):
            __struct_fields__ = ("block_hashes", "medium")
        class AllBlocksCleared(_Struct):
            pass
        class KVConnectorKVEvents(ABC):
            @abstractmethod
            def add_events(self, events): ...
            @abstractmethod
            def aggregate(self): ...
            @abstractmethod
            def increment_workers(self, count=1): ...
            @abstractmethod
            def get_all_events(self): ...
            @abstractmethod
            def get_number_of_workers(self): ...
            @abstractmethod
            def clear_events(self): ...
    """,
    "vllm/distributed/kv_transfer/__init__.py": "",
    "vllm/distributed/kv_transfer/kv_connector/__init__.py": "",
    "vllm/distributed/kv_transfer/kv_connector/v1/__init__.py": "",
    "vllm/distributed/kv_transfer/kv_connector/v1/base.py": """
        import enum
        class KVConnectorRole(enum.Enum):
            SCHEDULER = 0
            WORKER = 1
        class KVConnectorMetadata:
            pass
        class KVConnectorBase_V1:
            def __init__(self, vllm_config, role, kv_cache_config=None):
                self._vllm_config, self._role, self._connector_metadata = vllm_config, role, None
            def bind_connector_metadata(self, metadata):
                self._connector_metadata = metadata
            def _get_connector_metadata(self):
                return self._connector_metadata
    """,
}

SCRIPT = """
import os, sys
from types import SimpleNamespace
import numpy as np
from vllm.distributed import kv_events as vk
from vllm.distributed.kv_transfer.kv_connector.v1.base import KVConnectorRole
from lmcache4j.vllm import LMCache4jConnectorV1, LMCache4jKVEvents

cfg = SimpleNamespace(
    kv_transfer_config=SimpleNamespace(kv_role="kv_both", engine_id="standin%d" % os.getpid(),
                                       kv_connector_extra_config={"lmcache4j.socket_dir": sys.argv[1],
                                                                  "lmcache.chunk_size": 256,
                                                                  "lmcache.enable_kv_events": True,
                                                                  "lmcache.max_local_cpu_size": 0.01}),
    parallel_config=SimpleNamespace(tensor_parallel_size=1, pipeline_parallel_size=1, data_parallel_rank=0),
    cache_config=SimpleNamespace(block_size=16, cache_dtype="bfloat16"), model_config=SimpleNamespace(model="m"),
    kv_events_config=SimpleNamespace(enable_kv_cache_events=True))
worker = LMCache4jConnectorV1(cfg, KVConnectorRole.WORKER, None)
scheduler = LMCache4jConnectorV1(cfg, KVConnectorRole.SCHEDULER, None)
caches = {"l%d" % i: np.zeros((2, 64, 16, 2, 8), np.uint16) for i in range(2)}
worker.register_kv_caches(caches)
assert worker.get_kv_connector_kv_cache_events() is None, "nothing stored yet"
worker._worker.engine.store(np.arange(300), np.arange(300))
batch = worker.get_kv_connector_kv_cache_events()
assert isinstance(batch, LMCache4jKVEvents) and isinstance(batch, vk.KVConnectorKVEvents)
events = batch.get_all_events()
assert [type(e) for e in events] == [vk.BlockStored, vk.BlockStored], events
assert [e.block_size for e in events] == [256, 44] and events[1].parent_block_hash == events[0].block_hashes[0]
assert all(isinstance(e.block_hashes[0], int) and e.medium == "cpu" for e in events), "vLLM's default: integers"
scheduler.update_connector_output(SimpleNamespace(kv_cache_events=batch))
scheduler.update_connector_output(SimpleNamespace(kv_cache_events=None))
assert list(scheduler.take_events()) == events
assert list(scheduler.take_events()) == []
worker._worker.engine.clear()
assert worker.get_kv_connector_kv_cache_events().get_all_events() == [vk.AllBlocksCleared()]
assert scheduler.request_finished(SimpleNamespace(request_id="x", status=None), []) == (False, None)
worker.shutdown()
scheduler.shutdown()
print("OK")
"""


def test_the_adapter_hands_vllm_its_own_event_classes_and_merges_them(tmp_path):
    stubs = tmp_path / "standins"
    for path, text in STANDINS.items():
        f = stubs / path
        f.parent.mkdir(parents=True, exist_ok=True)
        f.write_text(textwrap.dedent(text))
    sockets = tmp_path / "sockets"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(stubs), SRC])}
    env.pop("VLLM_KV_EVENTS_USE_INT_BLOCK_HASHES", None)
    done = subprocess.run([sys.executable, "-c", SCRIPT, str(sockets)], env=env, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0 and done.stdout.strip().endswith("OK"), done.stdout + done.stderr
