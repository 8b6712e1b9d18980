"""The thin vLLM adapter, where vLLM can be imported (skipped, visibly, where it cannot)."""

import os
from types import SimpleNamespace

import pytest

vllm_base = pytest.importorskip("vllm.distributed.kv_transfer.kv_connector.v1.base",
                                reason="vLLM is not installed: the vLLM adapter tests are skipped")


def vllm_config(tmp_path):
    return SimpleNamespace(
        kv_transfer_config=SimpleNamespace(kv_connector="LMCache4jConnectorV1", kv_role="kv_both",
                                           kv_connector_module_path="lmcache4j.vllm", engine_id=f"t{os.getpid()}",
                                           kv_connector_extra_config={"lmcache4j.socket_dir": str(tmp_path / "s")},
                                           is_kv_producer=False),
        parallel_config=SimpleNamespace(tensor_parallel_size=1, pipeline_parallel_size=1, data_parallel_rank=0),
        cache_config=SimpleNamespace(block_size=16, cache_dtype="auto"),
        model_config=SimpleNamespace(model="m"))


def test_the_connector_is_a_kv_connector_with_the_three_argument_constructor(tmp_path):
    from lmcache4j.connector import ConnectorSettings
    from lmcache4j.vllm import LMCache4jConnectorMetadata, LMCache4jConnectorV1
    from vllm.v1.core.sched.output import SchedulerOutput

    assert issubclass(LMCache4jConnectorV1, vllm_base.KVConnectorBase_V1)
    connector = LMCache4jConnectorV1(vllm_config(tmp_path), vllm_base.KVConnectorRole.SCHEDULER, None)
    connector._scheduler._settings = ConnectorSettings()
    meta = connector.build_connector_meta(SchedulerOutput.make_empty())
    assert isinstance(meta, vllm_base.KVConnectorMetadata) and isinstance(meta, LMCache4jConnectorMetadata)
    assert meta.requests == []
    assert connector.request_finished(SimpleNamespace(request_id="x"), []) == (False, None)
    connector.shutdown()


def test_vllm_finds_the_connector_by_module_path():
    import importlib

    module = importlib.import_module("lmcache4j.vllm")
    assert getattr(module, "LMCache4jConnectorV1").__name__ == "LMCache4jConnectorV1"
