"""Background loads of the worker (vLLM's asynchronous KV loading, LMCache's enable_async_loading).

A request offered with ``load_kv_async`` waits outside the batch (vLLM's WAITING_FOR_REMOTE_KVS)
with its blocks allocated. Its load runs here, off the forward pass: the engine's prefetch brings
the prefix from disk or Redis into the CPU pool and pins it for the request, then a load thread
copies it into the request's blocks and unpins it. ``take_landed`` hands the request to vLLM's
``finished_recving`` with, in the same step, the blocks that did not arrive (vLLM recomputes them).
A request that ends while its load runs (an abort) has it cancelled; it is reported all the same,
once nothing writes into its blocks any more, so that vLLM frees them only then.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np

from ..errors import EngineClosedError, LMCache4jError
from .plans import RequestPlan

log = logging.getLogger("lmcache4j.connector")

LOAD_THREADS = 2   # copies from the pool run at memory speed; the slow part, reading the tiers, is the engine's


def missing_blocks(r: RequestPlan, loaded: int, block_size: int) -> set[int]:
    """The blocks of the tokens a load of ``r`` should have written and did not (-1 slots left out)."""
    missing_from = max(r.load.skip_leading + loaded, r.load.vllm_cached)
    slots = r.slot_mapping[missing_from:r.load.num_tokens]
    return {int(b) for b in np.unique(slots[slots >= 0] // block_size)}


@dataclass
class _Load:
    plan: RequestPlan
    prefetch: object = None
    cancelled: bool = False
    failed: set = field(default_factory=set)


class BackgroundLoads:
    """The running background loads of one worker's engine. ``stream`` gives a CUDA stream for a
    load's copies on GPU caches (None on the host): they are waited for before the load is reported."""

    def __init__(self, block_size: int, stream: Callable[[], object] | None = None):
        self._block_size = block_size
        self._stream = stream
        self._lock = threading.Lock()
        self._running: dict[str, _Load] = {}
        self._landed: list[_Load] = []
        self._threads = ThreadPoolExecutor(max_workers=LOAD_THREADS, thread_name_prefix="lmcache4j-load")

    def start(self, engine, r: RequestPlan) -> None:
        """Starts the load of ``r`` (its prefetch at once, its copy on a load thread)."""
        load = _Load(r)
        n = r.load.num_tokens
        try:
            load.prefetch = engine.prefetch(r.token_ids[:n], cache_salt=r.cache_salt, adapter=r.adapter,
                                            pin_request_id=r.request_id)
        except LMCache4jError as e:
            log.error("request %s: prefetching %d tokens failed: %s", r.request_id, n, e)
            self._land(engine, load, loaded=0)
            return
        with self._lock:
            self._running[r.request_id] = load
        self._threads.submit(self._copy, engine, load)

    def cancel(self, request_ids) -> None:
        """Cancels the loads of requests that ended (vLLM's finished_req_ids); they are still reported."""
        with self._lock:
            loads = [self._running[rid] for rid in request_ids if rid in self._running]
        for load in loads:
            load.cancelled = True
            try:
                load.prefetch.cancel()
            except EngineClosedError:
                pass   # it landed since it was picked (its landing closed the prefetch): nothing to stop

    def take_landed(self) -> tuple[set[str], set[int]]:
        """The requests whose loads have ended since the last call, and the blocks they could not fill."""
        with self._lock:
            landed, self._landed = self._landed, []
        return {l.plan.request_id for l in landed}, {b for l in landed for b in l.failed}

    @property
    def running(self) -> int:
        with self._lock:
            return len(self._running)

    def shutdown(self) -> None:
        """Cancels every load and waits for the load threads (before the engine closes)."""
        with self._lock:
            ids = list(self._running)
        self.cancel(ids)
        self._threads.shutdown(wait=True)

    def _copy(self, engine, load: _Load) -> None:
        r, loaded = load.plan, 0
        try:
            load.prefetch.wait()
            if not load.cancelled:
                stream = self._stream() if self._stream is not None else None
                n = r.load.num_tokens
                loaded = engine.retrieve(r.token_ids[:n], r.slot_mapping[:n], r.load.skip_leading,
                                         cache_salt=r.cache_salt, adapter=r.adapter, stream=stream)
                if stream is not None:
                    stream.synchronize()   # landed before vLLM is told
        except LMCache4jError as e:
            log.error("request %s: loading %d tokens in the background failed: %s", r.request_id,
                      r.load.num_tokens - r.load.skip_leading, e)
        except Exception:  # a load thread must report its request whatever happens, or vLLM waits forever
            log.exception("request %s: background load failed", r.request_id)
        finally:
            self._land(engine, load, loaded)

    def _land(self, engine, load: _Load, loaded: int) -> None:
        r = load.plan
        if load.prefetch is not None:
            load.prefetch.close()
        try:
            engine.unpin(r.request_id)   # the prefetch's pins, or the lookup's when it pinned nothing
        except LMCache4jError as e:
            log.debug("unpinning %s: %s", r.request_id, e)
        if not load.cancelled:
            load.failed = missing_blocks(r, loaded, self._block_size)
            if load.failed:
                log.warning("request %s: loaded %d of %d tokens in the background; %d blocks will be recomputed",
                            r.request_id, loaded, r.load.num_tokens - r.load.skip_leading, len(load.failed))
        with self._lock:
            self._running.pop(r.request_id, None)
            self._landed.append(load)
