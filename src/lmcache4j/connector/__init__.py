"""The vLLM KV connector's decisions, independent of vLLM (tested with plain objects).

``lmcache4j.vllm`` adapts vLLM's ``KVConnectorBase_V1`` to these classes:

* :class:`SchedulerSide` (engine-core process): how many tokens a request can load
  (``get_num_new_matched_tokens``), and per step which requests load and which save
  (``build_connector_meta``), following LMCache's chunk-aligned save rules;
* :class:`WorkerSide` (each GPU worker): opens the engine on the registered paged caches, whose
  layout is read from their shapes and strides, serves lookups on a private Unix socket, and
  carries out the step's loads and saves;
* :class:`RankLookups`: the scheduler's lookups, fanned out to every worker's engine (in this
  process directly, else over its socket); the smallest answer wins.
"""

from .context import ConnectorContext, ConnectorSettings
from .lookups import RankLookups
from .paged import InferredCaches, infer_layout
from .plans import LoadPlan, RequestPlan, SavePlan, StepPlan
from .scheduler import SchedulerSide
from .worker import WorkerSide

__all__ = ["ConnectorContext", "ConnectorSettings", "RankLookups", "InferredCaches", "infer_layout", "LoadPlan",
           "SavePlan", "RequestPlan", "StepPlan", "SchedulerSide", "WorkerSide"]
