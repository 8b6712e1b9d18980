"""LMCache4jConnectorV1: LMCache4j as a vLLM v1 KV connector.

    vllm serve MODEL --kv-transfer-config '{"kv_connector":"LMCache4jConnectorV1",
        "kv_connector_module_path":"lmcache4j.vllm","kv_role":"kv_both"}'

A thin adapter: the decisions are in :mod:`lmcache4j.connector`, which does not need vLLM.
Loads and saves are whole-request (not layer by layer), so ``wait_for_layer_load`` and
``save_kv_layer`` have nothing to do. On GPU caches they are ordered with torch's current CUDA
stream and never make the host wait for the GPU. See docs/vllm.md.
"""

from __future__ import annotations

try:
    from vllm.distributed.kv_transfer.kv_connector.v1.base import (KVConnectorBase_V1, KVConnectorMetadata,
                                                                    KVConnectorRole)
except ImportError as e:  # pragma: no cover - depends on the environment
    raise ImportError("lmcache4j.vllm needs vLLM (with the v1 KV connector API); the vLLM-independent "
                      "logic is in lmcache4j.connector") from e

from .connector import ConnectorContext, RankLookups, SchedulerSide, StepPlan, WorkerSide


class LMCache4jConnectorMetadata(StepPlan, KVConnectorMetadata):
    """The step's plan, as the metadata vLLM ships from the scheduler to the workers."""


def _rank(vllm_config) -> int:
    """This worker's rank among the tensor x pipeline parallel ranks."""
    from vllm.distributed.parallel_state import get_pp_group, get_tensor_model_parallel_rank

    tp = vllm_config.parallel_config.tensor_parallel_size
    return get_pp_group().rank_in_group * tp + get_tensor_model_parallel_rank()


def _logical_format(vllm_config) -> str | None:
    """How the attention backend orders a cache's first two dimensions (for 2-block caches)."""
    backend = str(getattr(getattr(vllm_config, "attention_config", None), "backend", "") or "").upper()
    return "blocks_first" if "FLASHINFER" in backend else None


def _torch_current_stream():
    """The stream the worker's forward pass runs on (torch.cuda.Stream: its cuda_stream is the CUstream)."""
    import torch

    return torch.cuda.current_stream()


class LMCache4jConnectorV1(KVConnectorBase_V1):
    def __init__(self, vllm_config, role, kv_cache_config=None):
        super().__init__(vllm_config=vllm_config, role=role, kv_cache_config=kv_cache_config)
        self._context = ConnectorContext.from_vllm_config(vllm_config)
        self._scheduler = self._worker = None
        if role == KVConnectorRole.SCHEDULER:
            timeout = 3.0  # the workers' lookup_timeout_ms is known only once they answer
            self._scheduler = SchedulerSide(self._context, RankLookups(self._context.socket_paths(), timeout))
        else:
            self._worker = WorkerSide(self._context, _rank(vllm_config), _logical_format(vllm_config),
                                      current_stream=_torch_current_stream,
                                      served_model_name=getattr(vllm_config.model_config, "served_model_name", None))

    # ---------------------------------------------------------------- worker side

    def register_kv_caches(self, kv_caches):
        self._worker.register_kv_caches(kv_caches)

    def start_load_kv(self, forward_context, **kwargs) -> None:
        self._worker.start_load(self._get_connector_metadata())

    def wait_for_layer_load(self, layer_name: str) -> None:
        return

    def save_kv_layer(self, layer_name, kv_layer, attn_metadata, **kwargs) -> None:
        return

    def wait_for_save(self):
        self._worker.wait_for_save(self._get_connector_metadata())

    def get_finished(self, finished_req_ids):
        return None, None

    def get_block_ids_with_load_errors(self) -> set[int]:
        return self._worker.take_failed_blocks() if self._worker else set()

    def shutdown(self):
        if self._worker is not None:
            self._worker.shutdown()
        if self._scheduler is not None:
            self._scheduler.lookups.close()

    # ---------------------------------------------------------------- scheduler side

    def get_num_new_matched_tokens(self, request, num_computed_tokens):
        return self._scheduler.get_num_new_matched_tokens(request, num_computed_tokens)

    def update_state_after_alloc(self, request, blocks, num_external_tokens):
        self._scheduler.update_state_after_alloc(request, num_external_tokens)

    def build_connector_meta(self, scheduler_output):
        return self._scheduler.build_step_plan(scheduler_output, LMCache4jConnectorMetadata())

    def request_finished(self, request, block_ids):
        return self._scheduler.request_finished(request, block_ids)
