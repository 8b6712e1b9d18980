"""What the scheduler tells the workers each step: plain, picklable data (vLLM ships it to the
worker processes)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class LoadPlan:
    """Load tokens [skip_leading, num_tokens) of the request; vLLM itself holds [0, vllm_cached).
    ``background``: an asynchronous load (vLLM's load_kv_async): the worker runs it off the forward
    pass and reports the request in ``get_finished`` once it has landed."""

    skip_leading: int
    num_tokens: int
    vllm_cached: int
    background: bool = False


@dataclass(frozen=True)
class SavePlan:
    """Store tokens [0, num_tokens); the first skip_leading (whole chunks) are already stored."""

    skip_leading: int
    num_tokens: int


@dataclass
class RequestPlan:
    request_id: str
    token_ids: np.ndarray       # int32, at least as many as the load or save needs
    slot_mapping: np.ndarray    # int64, one slot per token id
    cache_salt: str | None = None
    adapter: str | None = None
    load: LoadPlan | None = None
    save: SavePlan | None = None
    unpin: bool = False         # the scheduler's lookup pinned chunks for this request


@dataclass
class StepPlan:
    """The connector metadata of one scheduler step."""

    requests: list[RequestPlan] = field(default_factory=list)
