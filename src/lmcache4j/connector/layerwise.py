"""The worker's loads and saves layer by layer (LMCache's ``use_layerwise``): what ``start_load_kv``,
``wait_for_layer_load``, ``save_kv_layer`` and ``wait_for_save`` do when it is on.

As LMCache's connector does (``vllm_v1_adapter.py``, main branch as stored in December 2026), a
step's loads start in ``start_load_kv``, which brings each request's prefix into the engine's pool
and copies its first layer; ``wait_for_layer_load(layer i)`` then copies layer i+1 of every load,
one layer ahead of the attention that needs it, and after the last layer the loads end: a load
that was given up part way marks its blocks failed (vLLM recomputes them). A step's saves start at
the first ``save_kv_layer`` (each request's new chunks planned once) and copy one layer per call;
``wait_for_save`` ends them: a save whose every layer was copied is served once its copies land,
any other stores nothing. Every failure is logged and costs the cache, never the request.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from ..engine import Engine, LayeredCopy
from ..errors import LMCache4jError
from .plans import RequestPlan, StepPlan

log = logging.getLogger("lmcache4j.connector")


class LayerwiseSteps:
    """One worker's layered loads and saves of the current step, over layers named in model order."""

    def __init__(self, layer_names: list[str]):
        self.index = {name: i for i, name in enumerate(layer_names)}
        self.num_layers = len(layer_names)
        self._loads: list[tuple[RequestPlan, LayeredCopy]] = []
        self._saves: list[tuple[RequestPlan, LayeredCopy]] = []
        self._saving = False

    def start_loads(self, engine: Engine, plan: StepPlan, stream, unpin: Callable[[str], None],
                    fell_short: Callable[[RequestPlan, int], None]) -> None:
        """Opens a layered retrieve for each request the plan loads and copies its layer 0.
        ``fell_short(request, loaded)`` marks what a load did not bring."""
        self.finish_loads(fell_short)  # a step that never reached its last layer
        for r in plan.requests:
            try:
                if r.load is None:
                    continue
                n, skip = r.load.num_tokens, r.load.skip_leading
                try:
                    op = engine.retrieve_layers(r.token_ids[:n], r.slot_mapping[:n], skip, cache_salt=r.cache_salt,
                                                adapter=r.adapter, stream=stream)
                except LMCache4jError as e:
                    log.error("request %s: loading %d tokens layer by layer failed: %s", r.request_id, n - skip, e)
                    fell_short(r, 0)
                    continue
                self._loads.append((r, op))
            finally:
                if r.unpin:
                    unpin(r.request_id)  # the load holds its chunks now (or has failed)
        self._copy_loads(0)

    def layer_loaded(self, layer_name: str, fell_short: Callable[[RequestPlan, int], None]) -> None:
        """vLLM's ``wait_for_layer_load``: layer i is in (copied one layer ahead); copies layer i+1,
        or ends the loads after the last layer."""
        layer = self.index.get(layer_name)
        if layer is None or not self._loads:
            return
        if layer + 1 < self.num_layers:
            self._copy_loads(layer + 1)  # queued beside this layer's attention
            for r, op in self._loads:
                if op.layers_copied > layer:
                    try:
                        op.wait(layer)  # the stream's next work, this layer's attention, runs after its copy
                    except LMCache4jError as e:
                        log.error("request %s: waiting for layer %d failed: %s", r.request_id, layer, e)
        else:
            self.finish_loads(fell_short)  # closing waits for the last layer

    def finish_loads(self, fell_short: Callable[[RequestPlan, int], None]) -> None:
        loads, self._loads = self._loads, []
        for r, op in loads:
            copied = _close(op, r)
            fell_short(r, op.tokens if copied == self.num_layers else 0)

    def save_layer(self, engine: Engine, layer_name: str, plan: StepPlan, stream) -> None:
        """vLLM's ``save_kv_layer``: plans the step's saves at the first layer, then copies this layer."""
        layer = self.index.get(layer_name)
        if layer is None:
            return
        if not self._saving:
            self._saving = True
            self._open_saves(engine, plan, stream)
        _copy(self._saves, layer, "saving layer %d failed, nothing of this save is kept")

    def finish_saves(self) -> None:
        """vLLM's ``wait_for_save``: complete saves are served once their copies land; others store nothing."""
        saves, self._saves, self._saving = self._saves, [], False
        for r, op in saves:
            if _close(op, r) != self.num_layers:
                log.warning("request %s: %d of %d layers were saved: nothing of it is kept", r.request_id,
                            op.layers_copied, self.num_layers)

    def _open_saves(self, engine: Engine, plan: StepPlan, stream) -> None:
        for r in plan.requests:
            if r.save is None:
                continue
            n = r.save.num_tokens
            try:
                op = engine.store_layers(r.token_ids[:n], r.slot_mapping[:n], r.save.skip_leading,
                                         cache_salt=r.cache_salt, adapter=r.adapter, stream=stream)
            except LMCache4jError as e:
                log.error("request %s: storing %d tokens layer by layer failed: %s", r.request_id, n, e)
                continue
            self._saves.append((r, op))

    def _copy_loads(self, layer: int) -> None:
        _copy(self._loads, layer, "loading layer %d failed; its blocks will be recomputed")

    def close(self) -> None:
        """Ends whatever is open (the worker shuts down)."""
        for _, op in self._loads + self._saves:
            op.close()
        self._loads, self._saves = [], []


def _copy(ops: list[tuple[RequestPlan, LayeredCopy]], layer: int, failure: str) -> None:
    """Copies ``layer`` of each operation still at it (one that failed at an earlier layer copies nothing more)."""
    for r, op in ops:
        if op.layers_copied == layer:
            try:
                op.copy(layer)
            except LMCache4jError as e:
                log.error("request %s: " + failure + ": %s", r.request_id, layer, e)


def _close(op: LayeredCopy, r: RequestPlan) -> int:
    try:
        return op.close()
    except LMCache4jError as e:
        log.error("request %s: ending a layer-by-layer copy failed: %s", r.request_id, e)
        return 0
