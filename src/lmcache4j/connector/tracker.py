"""One request's progress as the scheduler sees it, and LMCache's rule for when to save it.

The save rule (LMCache's vLLM v1 adapter, restated):

* a request that was saved (or found cached) up to ``saved`` tokens is saved again only once it
  has crossed the next chunk boundary after ``saved``;
* a step that is not the prompt's last prefill step saves whole chunks only (the next step
  extends the partial one); the last one also saves the trailing partial chunk, with
  ``save_unfull_chunk`` (unless ``discard_partial_chunks``);
* decode-phase tokens (beyond the prompt) are saved only with ``save_decode_cache``;
* ``kv_consumer`` never saves; the first ``saved`` tokens, rounded down to a chunk, are skipped.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .context import ConnectorSettings
from .keying import RequestKeying
from .plans import SavePlan


@dataclass
class RequestTracker:
    request_id: str
    prompt_len: int
    token_ids: list = field(default_factory=list)   # the tokens scheduled so far
    block_ids: list = field(default_factory=list)   # the blocks allocated so far, in order
    cache_salt: str | None = None
    adapter: str | None = None
    saved_tokens: int = 0                           # tokens stored or found cached so far
    skip_save: bool = False
    keying: RequestKeying = field(default_factory=RequestKeying)   # folds multimodal hashes into the tokens

    @property
    def in_decode(self) -> bool:
        return len(self.token_ids) > self.prompt_len

    def slot_mapping(self, block_size: int, n: int) -> np.ndarray | None:
        """Slots of the first ``n`` tokens (block * block_size + offset), or None if the blocks
        allocated so far do not cover them."""
        blocks = np.asarray(self.block_ids, dtype=np.int64)
        if blocks.shape[0] * block_size < n:
            return None
        return (blocks[:, None] * block_size + np.arange(block_size, dtype=np.int64)).reshape(-1)[:n]


def plan_save(tracker: RequestTracker, settings: ConnectorSettings, discard_partial_chunks: bool) -> SavePlan | None:
    """What this step should store for the request, if anything; advances ``saved_tokens``."""
    if tracker.skip_save or (tracker.in_decode and not settings.save_decode_cache):
        return None
    n, c, saved = len(tracker.token_ids), settings.chunk_size, tracker.saved_tokens
    if saved > 0 and n < (saved // c + 1) * c:
        return None  # no new chunk boundary since the last save
    last_prefill = n >= tracker.prompt_len
    if last_prefill and settings.save_unfull_chunk and not discard_partial_chunks:
        end = n
    else:
        end = n // c * c
    start = saved // c * c
    if end <= start or end <= saved:
        return None
    tracker.saved_tokens = end
    return SavePlan(skip_leading=start, num_tokens=end)
