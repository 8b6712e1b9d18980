"""LMCache4jConnectorV1: LMCache4j as a vLLM v1 KV connector.

    vllm serve MODEL --kv-transfer-config '{"kv_connector":"LMCache4jConnectorV1",
        "kv_connector_module_path":"lmcache4j.vllm","kv_role":"kv_both"}'

A thin adapter: the decisions are in :mod:`lmcache4j.connector`, which does not need vLLM.
Loads and saves are whole-request unless ``use_layerwise`` is on; then ``wait_for_layer_load`` and
``save_kv_layer`` copy one layer at a time (:mod:`lmcache4j.connector.layerwise`); with
``enable_async_loading`` (and a disk or remote tier) hits load in the background and are reported
by ``get_finished``. On GPU caches they are ordered with torch's current CUDA
stream and never make the host wait for the GPU. See docs/vllm.md.
"""

from __future__ import annotations

try:
    from vllm.distributed.kv_transfer.kv_connector.v1.base import (KVConnectorBase_V1, KVConnectorMetadata,
                                                                    KVConnectorRole)
except ImportError as e:  # pragma: no cover - depends on the environment
    raise ImportError("lmcache4j.vllm needs vLLM (with the v1 KV connector API); the vLLM-independent "
                      "logic is in lmcache4j.connector") from e

try:  # vLLM with KV events from connectors (2025-11 and later)
    from vllm.distributed import kv_events as _vllm_kv_events
    from vllm.distributed.kv_events import KVConnectorKVEvents as _KVConnectorKVEvents
except ImportError:  # pragma: no cover - older vLLM: the connector reports no events
    _vllm_kv_events, _KVConnectorKVEvents = None, object

from . import kv_events
from .connector import ConnectorContext, RankLookups, SchedulerSide, StepPlan, WorkerSide
from .connector.events import SchedulerKvEvents, WorkerKvEvents


class LMCache4jConnectorMetadata(StepPlan, KVConnectorMetadata):
    """The step's plan, as the metadata vLLM ships from the scheduler to the workers."""


class LMCache4jKVEvents(WorkerKvEvents, _KVConnectorKVEvents):
    """One step's KV events of the workers, as vLLM's KVConnectorKVEvents (aggregated across workers)."""


def _vllm_event(e):
    """lmcache4j.kv_events' vLLM-shaped event as vLLM's own msgspec class (what its publisher encodes)."""
    if isinstance(e, kv_events.BlockStored):
        cls = _vllm_kv_events.BlockStored
        fields = dict(block_hashes=e.block_hashes, parent_block_hash=e.parent_block_hash, token_ids=e.token_ids,
                      block_size=e.block_size, lora_id=e.lora_id, medium=e.medium, lora_name=e.lora_name)
        return cls(**{k: v for k, v in fields.items() if k in cls.__struct_fields__})
    if isinstance(e, kv_events.BlockRemoved):
        return _vllm_kv_events.BlockRemoved(block_hashes=e.block_hashes, medium=e.medium)
    return _vllm_kv_events.AllBlocksCleared()


def _rank(vllm_config) -> int:
    """This worker's rank among the tensor x pipeline parallel ranks."""
    from vllm.distributed.parallel_state import get_pp_group, get_tensor_model_parallel_rank

    tp = vllm_config.parallel_config.tensor_parallel_size
    return get_pp_group().rank_in_group * tp + get_tensor_model_parallel_rank()


def _logical_format(vllm_config) -> str | None:
    """How the attention backend orders a cache's first two dimensions (for 2-block caches)."""
    backend = str(getattr(getattr(vllm_config, "attention_config", None), "backend", "") or "").upper()
    return "blocks_first" if "FLASHINFER" in backend else None


def _torch_new_stream():
    """A stream for background loads' copies (they must not queue behind the forward pass)."""
    import torch

    return torch.cuda.Stream()


def _torch_current_stream():
    """The stream the worker's forward pass runs on (torch.cuda.Stream: its cuda_stream is the CUstream)."""
    import torch

    return torch.cuda.current_stream()


class LMCache4jConnectorV1(KVConnectorBase_V1):
    def __init__(self, vllm_config, role, kv_cache_config=None):
        super().__init__(vllm_config=vllm_config, role=role, kv_cache_config=kv_cache_config)
        self._context = ConnectorContext.from_vllm_config(vllm_config)
        self._scheduler = self._worker = None
        self._events = SchedulerKvEvents(LMCache4jKVEvents)
        if role == KVConnectorRole.SCHEDULER:
            timeout = 3.0  # the workers' lookup_timeout_ms is known only once they answer
            self._scheduler = SchedulerSide(self._context, RankLookups(self._context.socket_paths(), timeout))
        else:
            self._worker = WorkerSide(self._context, _rank(vllm_config), _logical_format(vllm_config),
                                      current_stream=_torch_current_stream, new_stream=_torch_new_stream,
                                      served_model_name=getattr(vllm_config.model_config, "served_model_name", None))

    # ---------------------------------------------------------------- worker side

    def register_kv_caches(self, kv_caches):
        self._worker.register_kv_caches(kv_caches)

    def start_load_kv(self, forward_context, **kwargs) -> None:
        self._worker.start_load(self._get_connector_metadata())

    def wait_for_layer_load(self, layer_name: str) -> None:
        self._worker.wait_for_layer_load(layer_name)  # use_layerwise only; otherwise nothing to do

    def save_kv_layer(self, layer_name, kv_layer, attn_metadata, **kwargs) -> None:
        self._worker.save_kv_layer(layer_name, self._get_connector_metadata())

    def wait_for_save(self):
        self._worker.wait_for_save(self._get_connector_metadata())

    def get_finished(self, finished_req_ids):
        """Background loads (enable_async_loading) that have landed: vLLM's finished_recving."""
        return self._worker.get_finished(finished_req_ids) if self._worker else (None, None)

    def get_block_ids_with_load_errors(self) -> set[int]:
        return self._worker.take_failed_blocks() if self._worker else set()

    def get_kv_connector_kv_cache_events(self):
        """What the CPU tier gained and lost this step (rank 0 only; see lmcache4j.connector.events)."""
        batch = self._worker.take_kv_events() if self._worker and _vllm_kv_events is not None else None
        if batch is None:
            return None
        out = LMCache4jKVEvents(num_workers=1)
        out.add_events([_vllm_event(e) for e in batch.get_all_events()])
        return out

    def shutdown(self):
        if self._worker is not None:
            self._worker.shutdown()
        if self._scheduler is not None:
            self._scheduler.lookups.close()

    # ---------------------------------------------------------------- scheduler side

    def get_num_new_matched_tokens(self, request, num_computed_tokens):
        return self._scheduler.get_num_new_matched_tokens(request, num_computed_tokens)

    def update_state_after_alloc(self, request, blocks, num_external_tokens):
        self._scheduler.update_state_after_alloc(request, num_external_tokens, blocks)

    def build_connector_meta(self, scheduler_output):
        return self._scheduler.build_step_plan(scheduler_output, LMCache4jConnectorMetadata())

    def request_finished(self, request, block_ids):
        return self._scheduler.request_finished(request, block_ids)

    def update_connector_output(self, connector_output):
        self._events.update(connector_output)
        if self._scheduler is not None:
            self._scheduler.update_connector_output(connector_output)

    def take_events(self):
        yield from self._events.take()
