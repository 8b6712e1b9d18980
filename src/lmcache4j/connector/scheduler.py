"""The scheduler side of the connector: lookups, and each step's load and save plans."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import numpy as np

from .context import ConnectorContext, ConnectorSettings
from .keying import PROMPT_EMBEDS, RequestKeying, keying_of
from .plans import LoadPlan, RequestPlan, StepPlan
from .tracker import RequestTracker, plan_save

log = logging.getLogger("lmcache4j.connector")


@dataclass
class _Hit:
    vllm_cached: int     # tokens vLLM's own prefix cache holds
    hit: int             # tokens the engines hold
    can_load: bool = False
    background: bool = False   # offered with load_kv_async: loaded off the forward pass


@dataclass
class ConnectorCounters:
    """Requests the scheduler served differently from the rest (its ``stats()``)."""

    prompt_embeds_requests: int = 0   # given as prompt embeddings: neither loaded nor saved
    bad_input_requests: int = 0       # kv_transfer_params or mm_features it cannot key: served without the cache
    skip_save_requests: int = 0       # lmcache.skip_save
    aborted_requests: int = 0         # finished as aborted: pins released, nothing more saved


def _flat_blocks(block_ids) -> list:
    """vLLM gives block ids as a list, or as a tuple of lists (one per KV cache group)."""
    if block_ids is None:
        return []
    if isinstance(block_ids, tuple):
        return list(block_ids[0]) if block_ids else []
    return [b for item in block_ids for b in (item if isinstance(item, list) else [item])]


_SETTINGS_RETRY_S = 5.0


class SchedulerSide:
    """``get_num_new_matched_tokens``, ``update_state_after_alloc``, ``build_connector_meta`` and
    ``request_finished`` of the connector, on objects shaped like vLLM's ``Request`` and
    ``SchedulerOutput`` (read by attribute)."""

    def __init__(self, context: ConnectorContext, lookups, settings: ConnectorSettings | None = None):
        self.context = context
        self.lookups = lookups
        self._settings = settings
        self._startup_wait = context.startup_timeout_s
        self._next_settings_try = 0.0
        self._hits: dict[str, _Hit] = {}
        self._looked_up: dict[str, tuple] = {}   # request -> (hit, of it in the pools), until its blocks are allocated
        self._pinned: set[str] = set()
        self._trackers: dict[str, RequestTracker] = {}
        self._requests: dict = {}
        self._keyings: dict[str, RequestKeying] = {}
        self._to_load: dict[str, list] = {}      # background loads allocated, not yet planned: request -> blocks
        self._loading: set[str] = set()          # background loads planned, not yet reported landed
        self.counters = ConnectorCounters()

    @property
    def settings(self) -> ConnectorSettings | None:
        """The workers' settings, read from rank 0 once it answers (waiting for it the first time
        only); None while it does not, and then the connector offers and saves nothing."""
        if self._settings is None:
            # Asked at most every few seconds: a worker whose socket hangs must not stall every
            # scheduler step by the socket's timeout.
            now = time.monotonic()
            if now < self._next_settings_try:
                return None
            wait, self._startup_wait = self._startup_wait, 0.0
            try:
                self._settings = ConnectorSettings.from_config(self.lookups.config(wait))
            except Exception as e:
                self._next_settings_try = time.monotonic() + _SETTINGS_RETRY_S
                log.error("LMCache4j workers do not answer (%s): no loads or saves until they do", e)
                return None
            log.info("LMCache4j connector (scheduler): %s, %s", self.context, self._settings)
        return self._settings

    # ------------------------------------------------------------------ lookups

    def get_num_new_matched_tokens(self, request, num_computed_tokens: int) -> tuple[int, bool]:
        """Tokens beyond vLLM's own hit that the engines can load, and whether they load in the
        background (``enable_async_loading`` with a lower tier: see docs/vllm.md)."""
        settings = self.settings
        if not self.context.can_load or settings is None:
            return 0, False
        rid = request.request_id
        keying = self._keying(rid, request, _prompt_len(request))
        if keying.bypass is not None:
            return 0, False
        hit = self._looked_up.get(rid)
        if hit is None:
            tokens = keying.fold(list(request.all_token_ids))
            if self.context.skip_last_n_tokens > 0:
                tokens = tokens[:-self.context.skip_last_n_tokens]
            salt, adapter = keying.cache_salt, keying.adapter
            # With background loads the answer says where the hit lies: a hit all in the pools loads at once.
            ask = self.lookups.lookup_tiers if settings.loads_in_background else self.lookups.lookup
            try:
                answer = ask(tokens, cache_salt=salt, adapter=adapter, pin_request_id=rid,
                             prompt_tokens=request.num_tokens,
                             vllm_hit_tokens=min(num_computed_tokens, request.num_tokens))
            except Exception as e:  # a worker that is gone must not take the scheduler with it
                log.warning("LMCache4j lookup for request %s failed, treated as a miss: %s", rid, e)
                answer = 0
            hit, pool = answer if isinstance(answer, tuple) else (answer, answer)
            self._looked_up[rid] = hit, pool
            if hit:
                self._pinned.add(rid)
        else:
            hit, pool = hit
        need = hit - num_computed_tokens
        if hit == request.num_tokens:
            need -= 1  # the whole prompt hit: vLLM must still compute the last token
        min_retrieve = settings.min_retrieve_tokens
        load = need > 0 and not (min_retrieve and need < min_retrieve)
        log.info("Reqid: %s, Total tokens %d, vLLM hit tokens: %d, LMCache4j hit tokens: %d, need to load: %d",
                 rid, request.num_tokens, num_computed_tokens, hit, need if load else 0)
        background = load and settings.loads_in_background and pool < hit
        self._hits[rid] = _Hit(num_computed_tokens, hit, background=background)
        return (need, background) if load else (0, False)

    def update_state_after_alloc(self, request, num_external_tokens: int, blocks=None) -> None:
        """``blocks``: every block of the request (vLLM's KVCacheBlocks, or block ids); a background
        load needs them now, since the request is not scheduled until its load has landed."""
        rid = request.request_id
        self._requests[rid] = request
        self._looked_up.pop(rid, None)
        h = self._hits.get(rid)
        if h is None or num_external_tokens == 0:
            if h is not None:
                h.can_load = False
            return
        expected = h.hit - h.vllm_cached - (1 if h.hit == request.num_tokens else 0)
        if num_external_tokens != expected:
            log.warning("request %s: vLLM allocated %d external tokens, %d were offered: not loading",
                        rid, num_external_tokens, expected)
            h.can_load = False
            return
        h.can_load = True
        if h.background:
            self._to_load[rid] = _block_ids_of(blocks)

    # ------------------------------------------------------------------ steps

    def build_step_plan(self, scheduler_output, plan: StepPlan | None = None) -> StepPlan:
        """The loads and saves of this step (the connector metadata)."""
        plan = StepPlan() if plan is None else plan
        for rid in getattr(scheduler_output, "finished_req_ids", ()) or ():
            self._forget(rid)
        if self.settings is None:
            return plan
        for rid, blocks in list(self._to_load.items()):
            self._plan_background(plan, rid, blocks)
        self._to_load.clear()
        scheduled = scheduler_output.num_scheduled_tokens
        for new in scheduler_output.scheduled_new_reqs:
            rid = new.req_id
            request = self._requests.get(rid, new)
            hit = self._hits.pop(rid, None)
            prompt = list(new.prompt_token_ids or [])
            keying = self._keying(rid, request, len(prompt))
            if keying.bypass is not None:
                continue  # never looked up, so nothing to load or unpin; and nothing saved
            tracker = RequestTracker(rid, len(prompt), prompt[:new.num_computed_tokens + scheduled[rid]],
                                     _flat_blocks(new.block_ids), keying.cache_salt, keying.adapter,
                                     saved_tokens=hit.hit if hit else 0,
                                     skip_save=not self.context.can_save or keying.skip_save, keying=keying)
            self._trackers[rid] = tracker
            self._plan(plan, tracker, hit)
        cached = scheduler_output.scheduled_cached_reqs
        resumed = set(getattr(cached, "resumed_req_ids", ()) or ())
        for i, rid in enumerate(getattr(cached, "req_ids", ())):
            tracker, request = self._trackers.get(rid), self._requests.get(rid)
            if tracker is None or request is None:
                continue
            hit = self._hits.pop(rid, None)
            self._advance(tracker, request, scheduled[rid], _flat_blocks(cached.new_block_ids[i]),
                          rid in resumed or bool(getattr(cached, "resumed_from_preemption", [False] * (i + 1))[i]),
                          hit)
            self._plan(plan, tracker, hit)
        return plan

    def request_finished(self, request, block_ids=None) -> tuple[bool, dict | None]:
        """Saves are synchronous, so the blocks can be freed at once, unless a background load may
        still write into them: then vLLM keeps them until the worker reports the load (cancelled
        on the request's end) in ``finished_recving``. A finished request, aborted or not, gets no
        further save (its tracker is dropped; what was saved before stays), and the pins of a
        lookup that no load released are released now."""
        rid = request.request_id
        self._to_load.pop(rid, None)
        loading = rid in self._loading
        if _aborted(request):
            self.counters.aborted_requests += 1
            log.debug("request %s aborted: its pins are released and nothing more of it is saved", rid)
        if rid in self._pinned:  # looked up and pinned, never loaded: release the workers' pins
            try:
                self.lookups.unpin(rid)
            except Exception as e:
                log.debug("unpinning request %s: %s (its pins expire by themselves)", rid, e)
        self._forget(rid)
        return loading, None

    def update_connector_output(self, connector_output) -> None:
        """The workers' report of a step (vLLM's KVConnectorOutput): background loads that landed."""
        for rid in getattr(connector_output, "finished_recving", None) or ():
            self._loading.discard(rid)

    # ------------------------------------------------------------------ helpers

    def _advance(self, tracker: RequestTracker, request, num_new: int, new_blocks: list, resumed: bool,
                 hit: _Hit | None) -> None:
        computed = request.num_computed_tokens
        all_ids = request.all_token_ids
        if resumed:  # preempted and rescheduled: new blocks, and the tokens recomputed or loaded
            tracker.block_ids = list(new_blocks)
            tracker.token_ids = list(all_ids[:computed + num_new])
            tracker.saved_tokens = hit.hit if hit else 0
            return
        tracker.block_ids.extend(new_blocks)
        if len(tracker.token_ids) > computed:  # vLLM rolled the request back (failed loads)
            del tracker.token_ids[computed:]
            tracker.saved_tokens = min(tracker.saved_tokens, computed)
        tracker.token_ids.extend(all_ids[len(tracker.token_ids):computed + num_new])

    def _plan(self, plan: StepPlan, tracker: RequestTracker, hit: _Hit | None) -> None:
        rid, c = tracker.request_id, self.settings.chunk_size
        load = None
        if hit is not None and hit.can_load:
            load = LoadPlan(skip_leading=hit.vllm_cached // c * c, num_tokens=hit.hit, vllm_cached=hit.vllm_cached)
        save = plan_save(tracker, self.settings, self.context.discard_partial_chunks)
        unpin = rid in self._pinned
        if load is None and save is None and not unpin:
            return
        n = max(load.num_tokens if load else 0, save.num_tokens if save else 0)
        slots = tracker.slot_mapping(self.context.block_size, n)
        if slots is None or n > len(tracker.token_ids):
            log.error("request %s: %d tokens to load or save, but %d scheduled in %d blocks: skipped",
                      rid, n, len(tracker.token_ids), len(tracker.block_ids))
            load, save, n, slots = None, None, 0, np.zeros(0, dtype=np.int64)
        plan.requests.append(RequestPlan(rid, tracker.keying.fold(tracker.token_ids[:n]), slots,
                                         tracker.cache_salt, tracker.adapter, load, save, unpin))
        self._pinned.discard(rid)  # the worker unpins it now

    def _plan_background(self, plan: StepPlan, rid: str, blocks: list) -> None:
        """The load of a request waiting for its KV (vLLM's WAITING_FOR_REMOTE_KVS), in its blocks.
        A whole-prompt hit leaves the last token to vLLM, unallocated: its slot is -1 (not written)."""
        h, request, keying = self._hits.get(rid), self._requests.get(rid), self._keyings.get(rid)
        if h is None or request is None or keying is None:
            return
        c, bs = self.settings.chunk_size, self.context.block_size
        slots = np.full(h.hit, -1, dtype=np.int64)
        have = np.asarray(blocks, dtype=np.int64)
        covered = (have[:, None] * bs + np.arange(bs, dtype=np.int64)).reshape(-1)[:h.hit]
        slots[:covered.shape[0]] = covered
        tokens = keying.fold(list(request.all_token_ids[:h.hit]))
        load = LoadPlan(skip_leading=h.vllm_cached // c * c, num_tokens=h.hit, vllm_cached=h.vllm_cached,
                        background=True)
        plan.requests.append(RequestPlan(rid, tokens, slots, keying.cache_salt, keying.adapter, load, None, False))
        h.can_load = False          # loaded now: when vLLM schedules the request, nothing is left to load
        self._pinned.discard(rid)   # the worker's load pins and unpins it
        self._loading.add(rid)

    def _forget(self, rid: str) -> None:
        for table in (self._hits, self._looked_up, self._trackers, self._requests, self._keyings):
            table.pop(rid, None)
        self._pinned.discard(rid)

    def _keying(self, rid: str, request, prompt_len: int) -> RequestKeying:
        """The request's keying, read (and its bad input warned about, and counted) once."""
        keying = self._keyings.get(rid)
        if keying is None:
            keying = self._keyings[rid] = keying_of(request, prompt_len)
            c = self.counters
            if keying.bypass == PROMPT_EMBEDS:
                c.prompt_embeds_requests += 1
            elif keying.bypass is not None:
                c.bad_input_requests += 1
            elif keying.skip_save:
                c.skip_save_requests += 1
        return keying

    def stats(self) -> dict:
        """The connector's own counters (the engines' are in their ``stats()``)."""
        return dict(self.counters.__dict__)


def _block_ids_of(blocks) -> list:
    """Block ids from vLLM's KVCacheBlocks (``get_block_ids()``: one list per KV cache group) or a list."""
    if hasattr(blocks, "get_block_ids"):
        blocks = blocks.get_block_ids()
    return _flat_blocks(blocks)


def _prompt_len(request) -> int:
    prompt = getattr(request, "prompt_token_ids", None)
    return len(prompt) if prompt is not None else request.num_tokens


def _aborted(request) -> bool:
    """vLLM's RequestStatus.FINISHED_ABORTED (read by name: vLLM need not be importable)."""
    status = getattr(request, "status", None)
    return getattr(status, "name", status) == "FINISHED_ABORTED"
