"""The worker side of the connector: the engine over this worker's paged caches, and each step's
loads (before the forward pass) and saves (after it)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping

from .. import kv_events
from .. import metrics
from ..engine import Engine
from ..errors import LMCache4jError
from . import lookups
from .background import BackgroundLoads, missing_blocks
from .context import ConnectorContext
from .events import WorkerKvEvents
from .layerwise import LayerwiseSteps
from .paged import infer_layout
from .plans import StepPlan

log = logging.getLogger("lmcache4j.connector")


class WorkerSide:
    """``register_kv_caches``, ``start_load_kv``, ``wait_for_save``, ``get_finished``,
    ``get_block_ids_with_load_errors`` and ``shutdown`` of one worker (one tensor- or pipeline-parallel rank).

    ``current_stream`` gives the CUDA stream the worker's forward pass runs on (vLLM: torch's current
    stream): on GPU caches every load and save is ordered with it, so a save reads KV only after the
    forward pass wrote it and a load lands before attention reads it, without the host waiting.
    ``new_stream`` makes a CUDA stream for a background load's copies (vLLM: a new torch stream)."""

    def __init__(self, context: ConnectorContext, rank: int = 0, logical_format: str | None = None,
                 current_stream: Callable[[], object] | None = None, served_model_name=None,
                 new_stream: Callable[[], object] | None = None):
        self.context = context
        self.rank = rank
        self.logical_format = logical_format
        self.current_stream = current_stream
        self.on_gpu = False
        self.engine: Engine | None = None
        self.socket_path: str | None = None
        self._failed_blocks: set[int] = set()
        self.kv_events_lost = 0   # events the engine dropped because they were not taken in time
        self._kv_events_configured = False
        self._metric_labels = metrics.labels_for(context.model, rank, served_model_name=served_model_name)
        self.metrics = metrics.NO_MIRROR   # the engine's metrics on vLLM's /metrics, once it opens
        self.new_stream = new_stream
        self.background = BackgroundLoads(context.block_size, stream=self._background_stream)
        self.layerwise: LayerwiseSteps | None = None   # use_layerwise: loads and saves layer by layer

    def register_kv_caches(self, kv_caches: Mapping) -> None:
        """Opens the engine on the caches (one per layer, in the model's layer order): its layout is
        read from their shapes and strides. Then serves lookups for the scheduler."""
        if self.engine is not None:
            raise LMCache4jError("KV caches are already registered")
        layers = list(kv_caches.values())
        found = infer_layout(layers, dtype=self.context.kv_cache_dtype, logical=self.logical_format)
        engine = Engine(config=self.context.settings or None, layout=found.layout, model=self.context.model,
                        world_size=self.context.world_size, rank=self.rank)
        try:
            engine.register_kv_cache_addresses(found.addresses, found.device, keepalive=layers)
            self.socket_path = self.context.socket_path(self.rank)
            lookups.publish(self.socket_path, engine)
        except Exception:
            engine.close()
            raise
        self.engine = engine
        self.metrics = metrics.mirror_for(engine, self._metric_labels)
        self._kv_events_configured = bool(engine.config.get("enable_kv_events", False))
        if self.context.kv_events and self.rank == 0 and not self._kv_events_configured:
            log.info("vLLM publishes KV events, but enable_kv_events is off: the CPU tier's chunks are not "
                     "reported (set enable_kv_events: true, as with LMCache)")
        self.on_gpu = found.device != -1
        if engine.config.get("use_layerwise", False):
            if engine.via_server:   # protocol 1 has no layer-by-layer copies: whole requests still load and save
                log.warning("use_layerwise is on, but a client of lmcache4j server copies whole requests")
            else:
                self.layerwise = LayerwiseSteps(list(kv_caches.keys()))
        if self.reports_kv_events:
            engine.record_kv_events(True)
        log.info("LMCache4j connector (worker %d): %s on %s, lookups at %s", self.rank, found.layout,
                 f"CUDA device {found.device}" if found.device >= 0 else "a CUDA device" if self.on_gpu else "the host",
                 self.socket_path)

    def start_load(self, plan: StepPlan) -> None:
        """Loads what the plan says, before the forward pass; a load that falls short marks the
        missing tokens' blocks as failed (vLLM recomputes them). Background loads only start here."""
        engine = self._engine()
        if self.layerwise is not None:
            self.layerwise.start_loads(engine, plan, self._stream(), lambda rid: self._unpin(engine, rid),
                                       self._fell_short)
            return
        for r in plan.requests:
            if r.load is not None and r.load.background:
                self.background.start(engine, r)
                continue
            try:
                if r.load is not None:
                    n, skip = r.load.num_tokens, r.load.skip_leading
                    loaded = 0
                    try:
                        loaded = engine.retrieve(r.token_ids[:n], r.slot_mapping[:n], skip,
                                                 cache_salt=r.cache_salt, adapter=r.adapter, stream=self._stream())
                    except LMCache4jError as e:
                        log.error("request %s: loading %d tokens failed: %s", r.request_id, n - skip, e)
                    self._fell_short(r, loaded)
            finally:
                if r.unpin:
                    self._unpin(engine, r.request_id)

    def _fell_short(self, r, loaded: int) -> None:
        """Marks the blocks of the tokens a load planned but did not bring as failed (vLLM recomputes them)."""
        blocks = missing_blocks(r, loaded, self.context.block_size)
        if blocks:
            self._failed_blocks.update(blocks)
            log.warning("request %s: loaded %d of %d tokens; %d blocks will be recomputed",
                        r.request_id, loaded, r.load.num_tokens - r.load.skip_leading, len(blocks))

    # ---------------------------------------------------------------- layerwise (use_layerwise)

    def wait_for_layer_load(self, layer_name: str) -> None:
        """vLLM's ``wait_for_layer_load``: with use_layerwise, the layer is in and the next is copied."""
        if self.layerwise is not None:
            self.layerwise.layer_loaded(layer_name, self._fell_short)

    def save_kv_layer(self, layer_name: str, plan: StepPlan) -> None:
        """vLLM's ``save_kv_layer``: with use_layerwise, saves this layer of the step's saves."""
        if self.layerwise is not None and self.context.can_save:
            self.layerwise.save_layer(self._engine(), layer_name, plan, self._stream())

    def wait_for_save(self, plan: StepPlan) -> None:
        """Stores what the plan says, after the forward pass wrote the KV. A failed save is logged:
        it costs a future hit, never the request."""
        self.metrics.update()  # once a step at most once a second: this step's loads, the last step's saves
        if self.layerwise is not None:
            self.layerwise.finish_loads(self._fell_short)  # loads whose last layer was never waited for
            self.layerwise.finish_saves()
            return
        if not self.context.can_save:
            return
        engine = self._engine()
        for r in plan.requests:
            if r.save is None:
                continue
            n = r.save.num_tokens
            try:
                engine.store(r.token_ids[:n], r.slot_mapping[:n], r.save.skip_leading,
                             cache_salt=r.cache_salt, adapter=r.adapter, stream=self._stream())
            except LMCache4jError as e:
                log.error("request %s: storing %d tokens failed: %s", r.request_id, n, e)

    @property
    def reports_kv_events(self) -> bool:
        """Whether this worker reports KV events: when vLLM publishes them and the configuration's
        enable_kv_events is on (both, as LMCache asks), on rank 0 (see connector.events)."""
        return self.context.kv_events and self.rank == 0 and self._kv_events_configured

    def take_kv_events(self) -> WorkerKvEvents | None:
        """The CPU tier's changes since the last call (vLLM's ``get_kv_connector_kv_cache_events``), or
        None when there are none. Lost events (the engine's queue overflowed) are counted and warned about."""
        if not self.reports_kv_events or self.engine is None:
            return None
        events = []
        for e in self.engine.take_kv_events():
            if isinstance(e, kv_events.EventsLost):
                self.kv_events_lost += e.count
                log.warning("LMCache4j dropped %d KV events that were not taken in time: a router's view of the CPU "
                            "tier may be stale", e.count)
            else:
                events.append(kv_events.with_int_hashes(e) if self.context.int_block_hashes else e)
        if not events:
            return None
        batch = WorkerKvEvents(num_workers=1)
        batch.add_events(events)
        return batch

    def get_finished(self, finished_req_ids) -> tuple[set[str] | None, set[str] | None]:
        """vLLM's ``get_finished``: nothing is sent in the background; the requests whose background
        loads have ended are received. Loads of requests that ended meanwhile are cancelled first;
        the blocks a landed load could not fill go to this step's ``get_block_ids_with_load_errors``."""
        self.background.cancel(finished_req_ids or ())
        landed, failed = self.background.take_landed()
        self._failed_blocks.update(failed)
        return None, landed or None

    def take_failed_blocks(self) -> set[int]:
        failed, self._failed_blocks = self._failed_blocks, set()
        return failed

    def shutdown(self) -> None:
        self.background.shutdown()   # cancelled, and their threads done, before the engine closes
        if self.engine is not None:
            if self.layerwise is not None:
                self.layerwise.close()
            if self.socket_path:
                lookups.withdraw(self.socket_path)
            self.metrics.close()
            self.metrics = metrics.NO_MIRROR
            self.engine.close()
            self.engine = None

    def _stream(self):
        """The stream to order GPU copies with (None: the legacy default stream); none for host caches."""
        return self.current_stream() if self.on_gpu and self.current_stream is not None else None

    def _background_stream(self):
        """A stream of its own for a background load on GPU caches (None on the host): the copies
        must not wait for, nor hold up, the forward pass's stream."""
        return self.new_stream() if self.on_gpu and self.new_stream is not None else None

    def _engine(self) -> Engine:
        if self.engine is None:
            raise LMCache4jError("no KV caches registered with the LMCache4j connector")
        return self.engine

    @staticmethod
    def _unpin(engine: Engine, request_id: str) -> None:
        try:
            engine.unpin(request_id)
        except LMCache4jError as e:
            log.debug("unpinning %s: %s", request_id, e)
