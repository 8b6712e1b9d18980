"""Just enough of vLLM's scheduler and model runner to drive the connector with plain objects:
requests shaped like vllm.v1.request.Request, SchedulerOutput-shaped steps, a block allocator, and
a "model" whose KV for a token is a function of the token, its position, the layer and the plane,
so every loaded byte can be checked."""

from __future__ import annotations

import enum
import os
import time
from types import SimpleNamespace

import numpy as np

from lmcache4j.connector import StepPlan


class Request:
    """Shaped like vllm.v1.request.Request: ``mm_features`` items have ``identifier`` and
    ``mm_position`` (offset, length); ``status`` is a RequestStatus-like enum member."""

    def __init__(self, request_id, prompt, cache_salt=None, lora_name=None, mm_features=None,
                 prompt_embeds=None, kv_transfer_params=None):
        self.request_id = request_id
        self.prompt_token_ids = list(prompt)
        self.all_token_ids = list(prompt)
        self.num_computed_tokens = 0
        self.cache_salt = cache_salt
        self.lora_request = SimpleNamespace(lora_name=lora_name, lora_int_id=7) if lora_name else None
        self.mm_features = mm_features
        self.prompt_embeds = prompt_embeds
        self.kv_transfer_params = kv_transfer_params
        self.status = RequestStatus.RUNNING
        self.block_ids = []

    @property
    def num_tokens(self):
        return len(self.all_token_ids)


class RequestStatus(enum.IntEnum):
    """The members of vllm.v1.request.RequestStatus the connector reads."""

    WAITING = enum.auto()
    RUNNING = enum.auto()
    FINISHED_STOPPED = enum.auto()
    FINISHED_ABORTED = enum.auto()


def image(identifier, offset, length):
    """A vLLM MultiModalFeatureSpec-shaped input: its hash and its placeholder range."""
    return SimpleNamespace(identifier=identifier, modality="image",
                           mm_position=SimpleNamespace(offset=offset, length=length))


def kv_value(token, position, layer, plane):
    return (token * 7919 + position * 131 + layer * 17 + plane * 3) % 65521


class Vllm:
    """One vLLM instance: paged caches (flash_attn numpy arrays), blocks, connector sides."""

    def __init__(self, layout, scheduler, worker, max_tokens_per_step=100_000):
        self.layout, self.scheduler, self.worker = layout, scheduler, worker
        self.caches = [np.zeros(layout.cache_shape, dtype=np.uint16) for _ in range(layout.num_layers)]
        self.free_blocks = list(range(layout.num_blocks))[::-1]
        self.budget = max_tokens_per_step
        self.running: dict[str, Request] = {}
        self.steps = 0
        self.plans: list[StepPlan] = []

    def register(self):
        self.worker.register_kv_caches({f"model.layers.{i}.attn": c for i, c in enumerate(self.caches)})

    def rows(self, request, start, end):
        bs, width = self.layout.block_size, self.layout.num_kv_heads * self.layout.head_size
        slots = [request.block_ids[p // bs] * bs + p % bs for p in range(start, end)]
        return np.stack([c.reshape(2, -1, width)[:, slots] for c in self.caches])

    def expected_rows(self, request, start, end):
        width = self.layout.num_kv_heads * self.layout.head_size
        out = np.empty((self.layout.num_layers, 2, end - start, width), dtype=np.uint16)
        for layer in range(self.layout.num_layers):
            for plane in range(2):
                for p in range(start, end):
                    out[layer, plane, p - start] = kv_value(request.all_token_ids[p], p, layer, plane)
        return out

    def _allocate(self, request, tokens):
        bs = self.layout.block_size
        needed = -(-tokens // bs) - len(request.block_ids)
        new = [self.free_blocks.pop() for _ in range(max(0, needed))]
        request.block_ids += new
        return new

    def _compute(self, request, start, end, layers=None):
        """The forward pass (of ``layers``, default all): writes the KV of tokens [start, end) into the request's blocks."""
        bs, width = self.layout.block_size, self.layout.num_kv_heads * self.layout.head_size
        for p in range(start, end):
            slot = request.block_ids[p // bs] * bs + p % bs
            for layer, c in enumerate(self.caches):
                if layers is not None and layer not in layers:
                    continue
                for plane in range(2):
                    c.reshape(2, -1, width)[plane, slot] = kv_value(request.all_token_ids[p], p, layer, plane)

    def add(self, request, local_hit=0):
        """Schedules a new request's first step; returns the tokens the connector offered."""
        external, is_async = self.scheduler.get_num_new_matched_tokens(request, local_hit)
        assert is_async is False
        request.num_computed_tokens = local_hit + external
        scheduled = min(request.num_tokens - request.num_computed_tokens, self.budget)
        self._allocate(request, request.num_computed_tokens + scheduled)
        self.scheduler.update_state_after_alloc(request, external)
        new = SimpleNamespace(req_id=request.request_id, prompt_token_ids=request.prompt_token_ids,
                              block_ids=(list(request.block_ids),), num_computed_tokens=request.num_computed_tokens,
                              lora_request=request.lora_request, mm_features=request.mm_features,
                              prompt_embeds=request.prompt_embeds)
        self.running[request.request_id] = request
        self._step([new], [], {request.request_id: scheduled})
        return external

    def step(self, request, decode_token=None):
        """The request's next step: the rest of its prefill (within the budget), or one decoded token."""
        if decode_token is not None:
            request.all_token_ids.append(decode_token)
        scheduled = min(request.num_tokens - request.num_computed_tokens, self.budget)
        new_blocks = self._allocate(request, request.num_computed_tokens + scheduled)
        cached = SimpleNamespace(req_ids=[request.request_id], resumed_req_ids=set(), new_token_ids=[[]],
                                 new_block_ids=[(new_blocks,)], num_computed_tokens=[request.num_computed_tokens])
        self._step([], [cached], {request.request_id: scheduled})

    def after_layer_load(self, plan, layer):
        """Called once ``wait_for_layer_load`` of ``layer`` returned (a test may check that layer here)."""

    def run(self, request, local_hit=0):
        """A request from its first step to its end (its prefill in one step); the tokens offered."""
        offered = self.add(request, local_hit)
        self.finish(request)
        return offered

    def loaded_exactly(self, request, end):
        """Whether the request's blocks hold the model's KV for its tokens [0, end)."""
        return np.array_equal(self.rows(request, 0, end), self.expected_rows(request, 0, end))

    def finish(self, request, status=RequestStatus.FINISHED_STOPPED):
        request.status = status
        self.scheduler.request_finished(request, request.block_ids)
        self.running.pop(request.request_id)
        self.free_blocks += request.block_ids
        out = SimpleNamespace(scheduled_new_reqs=[], scheduled_cached_reqs=SimpleNamespace(req_ids=[]),
                              num_scheduled_tokens={}, finished_req_ids={request.request_id})
        self.plans.append(self.scheduler.build_step_plan(out))

    def _step(self, new_reqs, cached, scheduled):
        req_ids = [r for c in cached for r in c.req_ids]
        cached_reqs = SimpleNamespace(req_ids=req_ids, resumed_req_ids=set(),
                                      new_block_ids=[b for c in cached for b in c.new_block_ids])
        out = SimpleNamespace(scheduled_new_reqs=new_reqs, scheduled_cached_reqs=cached_reqs,
                              num_scheduled_tokens=scheduled, finished_req_ids=set())
        plan = self.scheduler.build_step_plan(out)
        self.plans.append(plan)
        self.worker.start_load(plan)
        if self.worker.layerwise is not None:  # use_layerwise: vLLM's attention layers, one after another
            for layer in range(self.layout.num_layers):
                name = f"model.layers.{layer}.attn"
                self.worker.wait_for_layer_load(name)
                self.after_layer_load(plan, layer)
                for rid, n in scheduled.items():
                    r = self.running[rid]
                    self._compute(r, r.num_computed_tokens, r.num_computed_tokens + n, layers=(layer,))
                self.worker.save_kv_layer(name, plan)
        else:
            for rid, n in scheduled.items():
                r = self.running[rid]
                self._compute(r, r.num_computed_tokens, r.num_computed_tokens + n)
        self.worker.wait_for_save(plan)
        for rid, n in scheduled.items():
            self.running[rid].num_computed_tokens += n
        self.steps += 1


def settled(engine, seconds=10.0):
    """Whether the engine holds no lease or pin, once its disk writes (write-through, asynchronous) have ended."""
    deadline = time.monotonic() + seconds
    while True:
        s = engine.stats()
        if (s.leases, s.pins) == (0, 0):
            return True
        if time.monotonic() > deadline:
            raise AssertionError(f"leases or pins left: {s}")
        time.sleep(0.02)


class Instances:
    """Makes connected vLLM instances (scheduler, worker on rank ``rank``, registered caches) over
    ``layout``, each its own engine; ``close()`` checks none leaked a lease or pin and shuts them down."""

    def __init__(self, layout, socket_dir, name):
        self.layout, self.socket_dir, self.name, self.made = layout, socket_dir, name, []

    def __call__(self, pool_gb=0.05, rank=0, enable_kv_events=None, settings=None, **context):
        """``enable_kv_events`` (LMCache's key) follows ``kv_events`` (vLLM publishing) unless given;
        ``settings`` adds to (or overrides) the engine settings."""
        from lmcache4j.connector import ConnectorContext, RankLookups, SchedulerSide, WorkerSide

        settings = {"chunk_size": 256, "max_local_cpu_size": pool_gb,
                    "enable_kv_events": context.get("kv_events", False) if enable_kv_events is None else enable_kv_events,
                    **(settings or {})}
        ctx = ConnectorContext(block_size=self.layout.block_size, model="m",
                               instance_id=f"{self.name}{os.getpid()}-{len(self.made)}", socket_dir=self.socket_dir,
                               kv_cache_dtype="bfloat16", settings=settings, **context)
        v = Vllm(self.layout, SchedulerSide(ctx, RankLookups(ctx.socket_paths())), WorkerSide(ctx, rank=rank))
        v.register()
        self.made.append(v)
        return v

    def close(self):
        for v in self.made:
            if v.worker.engine is not None:
                assert settled(v.worker.engine)
            v.worker.shutdown()
            v.scheduler.lookups.close()
