"""The connector's decisions with plain objects: layouts read from strides, LMCache's save rules,
the scheduler and workers end to end, tensor-parallel lookups over sockets in another process."""

import os
import stat
import subprocess
import sys
import textwrap
from types import SimpleNamespace

import numpy as np
import pytest
from fake_vllm import Request, Vllm

from lmcache4j import InvalidArgumentError, KvLayout, UnsupportedError
from lmcache4j.connector import (ConnectorContext, ConnectorSettings, RankLookups, SchedulerSide, WorkerSide,
                                 infer_layout)
from lmcache4j.connector.tracker import RequestTracker, plan_save

SRC = os.path.join(os.path.dirname(__file__), "..", "..", "src")
LAYOUT = KvLayout(num_layers=2, num_kv_heads=2, head_size=8, block_size=16, num_blocks=256, dtype="bfloat16")
SETTINGS = {"chunk_size": 256, "max_local_cpu_size": 0.05}


# ---------------------------------------------------------------- layouts from shapes and strides

def test_layouts_are_read_from_shapes_and_strides():
    fa = [np.zeros((2, 10, 16, 4, 8), np.float16) for _ in range(3)]
    found = infer_layout(fa)
    assert found.layout == KvLayout(3, 4, 8, 16, 10, "float16", "flash_attn")
    assert found.addresses == [a.ctypes.data for a in fa] and found.device == -1
    bf = [np.zeros((10, 2, 16, 4, 8), np.float32)]
    assert infer_layout(bf).layout.kv_format == "blocks_first"
    mla = [np.zeros((10, 16, 576), np.uint16)]
    assert infer_layout(mla, dtype="bfloat16").layout == KvLayout(1, 1, 576, 16, 10, "bfloat16", "mla")
    # vLLM may permute the memory order: logically flash_attn, physically blocks-first.
    permuted = [np.zeros((10, 2, 16, 4, 8), np.float16).transpose(1, 0, 2, 3, 4)]
    assert permuted[0].shape == (2, 10, 16, 4, 8)
    assert infer_layout(permuted).layout.kv_format == "blocks_first"
    one_head = [np.zeros((2, 10, 16, 1, 8), np.float16)]
    assert infer_layout(one_head).layout.num_kv_heads == 1
    two_blocks = [np.zeros((2, 2, 16, 4, 8), np.float16)]
    assert infer_layout(two_blocks).layout.kv_format == "flash_attn"
    assert infer_layout(two_blocks, logical="blocks_first").layout.kv_format == "blocks_first"


def test_layouts_the_engine_cannot_copy_are_refused_by_name():
    hnd = [np.zeros((10, 2, 4, 16, 8), np.float16).transpose(0, 1, 3, 2, 4)]  # heads outside slots
    with pytest.raises(UnsupportedError, match="block, kv, head, slot, dim"):
        infer_layout(hnd)
    padded = [np.zeros((2, 10, 16, 4, 16), np.float16)[..., :8]]
    with pytest.raises(InvalidArgumentError, match="not one dense block"):
        infer_layout(padded)
    with pytest.raises(InvalidArgumentError, match="differs from KV cache 0"):
        infer_layout([np.zeros((2, 10, 16, 4, 8), np.float16), np.zeros((2, 11, 16, 4, 8), np.float16)])
    with pytest.raises(InvalidArgumentError, match="need their KV dtype named"):
        infer_layout([np.zeros((2, 10, 16, 4, 8), np.uint16)])
    with pytest.raises(UnsupportedError, match="not a paged layout"):
        infer_layout([np.zeros((3, 10, 16, 4, 8), np.float16)])
    with pytest.raises(InvalidArgumentError, match="no KV caches"):
        infer_layout([])


# ---------------------------------------------------------------- LMCache's save rules

def saves(steps, prompt_len, *, saved=0, chunk=256, decode=False, unfull=True, discard=False):
    """The save plans of a request whose scheduled tokens grow as ``steps`` says."""
    settings = ConnectorSettings(chunk_size=chunk, save_decode_cache=decode, save_unfull_chunk=unfull)
    t = RequestTracker("r", prompt_len, saved_tokens=saved)
    out = []
    for n in steps:
        t.token_ids = list(range(n))
        p = plan_save(t, settings, discard)
        out.append(None if p is None else (p.skip_leading, p.num_tokens))
    return out


def test_prefill_in_one_step_saves_everything_with_the_partial_chunk():
    assert saves([600], 600) == [(0, 600)]
    assert saves([600], 600, unfull=False) == [(0, 512)]
    assert saves([600], 600, discard=True) == [(0, 512)]


def test_chunked_prefill_saves_whole_chunks_until_the_last_step():
    assert saves([300, 600, 1000], 1000) == [(0, 256), (256, 512), (512, 1000)]
    assert saves([100, 200, 300], 300) == [None, None, (0, 300)]


def test_a_request_is_saved_again_only_after_crossing_a_chunk_boundary():
    # 256 cached: 300 tokens cross no new boundary; 600 do.
    assert saves([300], 300, saved=256) == [None]
    assert saves([600], 600, saved=256) == [(256, 600)]


def test_decode_tokens_are_saved_only_with_save_decode_cache():
    steps = [600, 601, 700, 768, 769]
    assert saves(steps, 600) == [(0, 600), None, None, None, None]
    assert saves(steps, 600, decode=True) == [(0, 600), None, None, (512, 768), None]


# ---------------------------------------------------------------- scheduler and worker, end to end

@pytest.fixture
def context(tmp_path):
    return lambda **kw: ConnectorContext(block_size=16, model="m", instance_id=f"t{os.getpid()}",
                                         socket_dir=str(tmp_path / "sockets"), settings=dict(SETTINGS),
                                         kv_cache_dtype="bfloat16", **kw)


@pytest.fixture
def vllm_instance(context):
    instances = []

    def make(**kw):
        ctx = context(**kw)
        worker = WorkerSide(ctx, rank=0)
        scheduler = SchedulerSide(ctx, RankLookups(ctx.socket_paths()))
        v = Vllm(LAYOUT, scheduler, worker)
        v.register()
        instances.append(v)
        return v

    yield make
    for v in instances:
        s = v.worker.engine.stats() if v.worker.engine else None
        assert s is None or (s.leases, s.pins) == (0, 0), s
        v.worker.shutdown()
        v.scheduler.lookups.close()


def test_a_repeated_prompt_is_loaded_byte_exact_and_its_last_token_recomputed(vllm_instance):
    v = vllm_instance()
    prompt = list(range(1000, 1512))  # two whole chunks
    assert v.run(Request("a", prompt)) == 0
    second = Request("b", prompt)
    assert v.add(second) == 511, "a full hit leaves the last token to vLLM"
    load = v.plans[-1].requests[0].load
    assert (load.skip_leading, load.num_tokens) == (0, 512)
    assert v.loaded_exactly(second, 512)
    assert v.worker.take_failed_blocks() == set()
    v.finish(second)


def test_a_longer_prompt_loads_the_cached_chunks_and_saves_the_rest(vllm_instance):
    v = vllm_instance()
    base = list(range(5, 2005))
    v.run(Request("a", base))
    second = Request("b", base + list(range(9000, 9100)))
    assert v.add(second) == 1792, "the 7 whole chunks; the partial eighth differs"
    plan = v.plans[-1].requests[0]
    assert (plan.load.num_tokens, plan.save.skip_leading, plan.save.num_tokens) == (1792, 1792, 2100)
    assert v.loaded_exactly(second, 2100)
    v.finish(second)
    assert v.run(Request("c", base + list(range(9000, 9100)))) == 2099


def test_vllms_own_hit_is_not_loaded_again(vllm_instance):
    v = vllm_instance()
    prompt = list(range(1, 801))
    v.run(Request("a", prompt))
    second = Request("b", prompt + [5, 6, 7])
    v._allocate(second, 512)
    v._compute(second, 0, 512)  # as if vLLM's prefix cache held 512 tokens
    assert v.add(second, local_hit=512) == 256, "768 cached (800 hold a partial chunk), 512 of them in vLLM"
    load = v.plans[-1].requests[0].load
    assert (load.skip_leading, load.num_tokens, load.vllm_cached) == (512, 768, 512)
    assert v.loaded_exactly(second, 803)
    v.finish(second)


def test_chunked_prefill_and_decode_save_at_chunk_boundaries(vllm_instance):
    v = vllm_instance()
    v.budget = 200
    r = Request("a", list(range(100, 700)))
    v.add(r)
    while r.num_computed_tokens < r.num_tokens:
        v.step(r)
    for token in range(300):
        v.step(r, decode_token=token)
    saved = [(p.save.skip_leading, p.save.num_tokens) for plan in v.plans for p in plan.requests if p.save]
    assert saved == [(0, 256), (256, 600)], "a whole chunk, then the prompt with its partial one; no decode tokens"
    v.finish(r)


def test_salts_and_adapters_keep_requests_apart(vllm_instance):
    v = vllm_instance()
    prompt = list(range(3000, 3300))
    for rid, salt, lora in [("a", "tenant-1", None), ("b", None, "sql-lora")]:
        v.run(Request(rid, prompt, cache_salt=salt, lora_name=lora))
    offered = {rid: v.run(Request(rid, prompt, cache_salt=salt, lora_name=lora))
               for rid, salt, lora in [("c", None, None), ("d", "tenant-2", None), ("e", "tenant-1", None),
                                       ("f", None, "sql-lora"), ("g", "tenant-1", "sql-lora")]}
    assert offered == {"c": 0, "d": 0, "e": 299, "f": 299, "g": 0}


def test_consumers_never_save_and_producers_never_load(vllm_instance):
    consumer = vllm_instance(kv_role="kv_consumer")
    consumer.run(Request("a", list(range(600))))
    assert consumer.worker.engine.stats().stored_tokens == 0
    producer = vllm_instance(kv_role="kv_producer")
    for rid in ("a", "b"):
        assert producer.run(Request(rid, list(range(600)))) == 0
    assert producer.worker.engine.stats().lookup_requests == 0


def test_min_retrieve_tokens_and_unloaded_pins(context):
    ctx = ConnectorContext(**{**context().__dict__, "settings": {**SETTINGS, "min_retrieve_tokens": 600}})
    worker, scheduler = WorkerSide(ctx), SchedulerSide(ctx, RankLookups(ctx.socket_paths()))
    v = Vllm(LAYOUT, scheduler, worker)
    v.register()
    v.run(Request("a", list(range(600))))
    assert v.run(Request("b", list(range(600)) + [1, 2])) == 0, "512 tokens to load < min_retrieve_tokens 600"
    assert worker.engine.stats().pins == 0, "the lookup's pins were released by the worker"
    r3 = Request("c", list(range(600)) + [3])
    scheduler.get_num_new_matched_tokens(r3, 0)
    assert worker.engine.stats().pins > 0
    scheduler.request_finished(r3)  # aborted before it was scheduled
    assert worker.engine.stats().pins == 0
    worker.shutdown()


def test_a_dead_worker_is_a_miss_not_a_crash(context):
    ctx = context()
    scheduler = SchedulerSide(ctx, RankLookups(ctx.socket_paths(), timeout_s=0.2), ConnectorSettings())
    assert scheduler.get_num_new_matched_tokens(Request("a", list(range(300))), 0) == (0, False)
    never_up = SchedulerSide(ConnectorContext(**{**ctx.__dict__, "startup_timeout_s": 0.3}),
                             RankLookups(ctx.socket_paths(), timeout_s=0.2))
    request = Request("b", list(range(300)))
    assert never_up.get_num_new_matched_tokens(request, 0) == (0, False)
    never_up.update_state_after_alloc(request, 0)
    out = SimpleNamespace(scheduled_new_reqs=[SimpleNamespace(req_id="b", prompt_token_ids=request.prompt_token_ids,
                                                              block_ids=([0] * 19,), num_computed_tokens=0)],
                          scheduled_cached_reqs=SimpleNamespace(req_ids=[]), num_scheduled_tokens={"b": 300},
                          finished_req_ids=set())
    assert never_up.build_step_plan(out).requests == []


def test_the_context_reads_vllms_configuration():
    cfg = SimpleNamespace(
        kv_transfer_config=SimpleNamespace(kv_role="kv_both", engine_id="abc", kv_connector_extra_config={
            "lmcache.chunk_size": 128, "lmcache4j.socket_dir": "/tmp/x", "discard_partial_chunks": True}),
        parallel_config=SimpleNamespace(tensor_parallel_size=4, pipeline_parallel_size=2, data_parallel_rank=1),
        cache_config=SimpleNamespace(block_size=32, cache_dtype="fp8"),
        model_config=SimpleNamespace(model="mistralai/Mistral-7B"))
    ctx = ConnectorContext.from_vllm_config(cfg)
    assert (ctx.world_size, ctx.block_size, ctx.instance_id, ctx.settings, ctx.kv_cache_dtype, ctx.socket_dir) == (
        8, 32, "abc-dp1", {"chunk_size": 128}, "fp8", "/tmp/x")
    assert ctx.discard_partial_chunks and ctx.can_load and ctx.can_save
    with pytest.raises(InvalidArgumentError, match="kv_role"):
        ConnectorContext(kv_role="kv_sometimes")


def test_the_contexts_own_options_are_read_strictly():
    def ctx(**extra):
        return ConnectorContext.from_vllm_config(SimpleNamespace(
            kv_transfer_config=SimpleNamespace(kv_role="kv_both", kv_connector_extra_config=extra),
            parallel_config=SimpleNamespace(), cache_config=SimpleNamespace(block_size=16),
            model_config=SimpleNamespace(model="m")))

    assert not ctx(discard_partial_chunks="false").discard_partial_chunks, "the word false is off, not truthy"
    assert ctx(discard_partial_chunks="True").discard_partial_chunks
    assert ctx(skip_last_n_tokens="4").skip_last_n_tokens == 4
    for bad in (dict(discard_partial_chunks="maybe"), dict(discard_partial_chunks=[1]),
                dict(skip_last_n_tokens=-3), dict(skip_last_n_tokens=2.5), dict(skip_last_n_tokens="abc"),
                dict(skip_last_n_tokens=True)):
        key = next(iter(bad))
        with pytest.raises(InvalidArgumentError, match=f"kv_connector_extra_config {key}"):
            ctx(**bad)


def test_a_socket_directory_others_can_enter_is_refused(tmp_path):
    open_dir = tmp_path / "open"
    open_dir.mkdir(mode=0o755)
    open_dir.chmod(0o755)
    with pytest.raises(InvalidArgumentError, match="must be private"):
        ConnectorContext(socket_dir=str(open_dir)).socket_path(0)
    long_dir = tmp_path / ("d" * 20)
    assert len(ConnectorContext(socket_dir=str(long_dir), instance_id="x" * 80).socket_path(3)) <= 107


# ---------------------------------------------------------------- tensor parallelism across processes

REMOTE_WORKER = """
import sys, numpy as np
from lmcache4j.connector import ConnectorContext, WorkerSide
ctx = ConnectorContext(block_size=16, model="m", instance_id=sys.argv[1], world_size=2, socket_dir=sys.argv[2],
                       kv_cache_dtype="bfloat16",
                       settings={"chunk_size": 256, "max_local_cpu_size": 0.05})
w = WorkerSide(ctx, rank=0)
caches = [np.zeros((2, 256, 16, 2, 8), np.uint16) for _ in range(2)]
w.register_kv_caches({"l0": caches[0], "l1": caches[1]})
w.engine.store(np.arange(768), np.arange(768))
print("READY", w.socket_path, flush=True)
sys.stdin.readline()
w.shutdown()
"""


def test_tensor_parallel_lookups_reach_every_rank_and_the_smallest_hit_wins(tmp_path):
    sockets = tmp_path / "tp"
    instance = f"tp{os.getpid()}"
    env = {**os.environ, "PYTHONPATH": SRC}
    rank0 = subprocess.Popen([sys.executable, "-c", textwrap.dedent(REMOTE_WORKER), instance, str(sockets)],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env)
    try:
        line = rank0.stdout.readline()
        assert line.startswith("READY"), line
        path0 = line.split()[1]
        mode = os.stat(path0).st_mode
        assert stat.S_ISSOCK(mode) and stat.S_IMODE(mode) == 0o600
        assert stat.S_IMODE(os.stat(sockets).st_mode) == 0o700
        ctx = ConnectorContext(block_size=16, model="m", instance_id=instance, world_size=2, socket_dir=str(sockets),
                               kv_cache_dtype="bfloat16",
                               settings=dict(SETTINGS))
        rank1 = WorkerSide(ctx, rank=1)  # in this process: asked directly
        caches = [np.zeros((2, 256, 16, 2, 8), np.uint16) for _ in range(2)]
        rank1.register_kv_caches({"l0": caches[0], "l1": caches[1]})
        rank1.engine.store(np.arange(512), np.arange(512))
        scheduler = SchedulerSide(ctx, RankLookups(ctx.socket_paths()))
        assert scheduler.settings.chunk_size == 256, "read from rank 0 over its socket"
        request = Request("r", list(range(800)))
        assert scheduler.get_num_new_matched_tokens(request, 0) == (512, False)
        assert rank1.engine.stats().pins == 2
        scheduler.request_finished(request)
        assert rank1.engine.stats().pins == 0
        rank1.shutdown()
        scheduler.lookups.close()
    finally:
        rank0.communicate("\n", timeout=60)
    assert rank0.returncode == 0
    assert not os.path.exists(path0), "the socket is removed when its engine closes"


def test_a_rank_that_fails_mid_lookup_leaves_no_pins_on_the_others(tmp_path):
    ctx = ConnectorContext(block_size=16, model="m", instance_id=f"half{os.getpid()}", world_size=2,
                           socket_dir=str(tmp_path / "tp"), kv_cache_dtype="bfloat16", settings=dict(SETTINGS))
    rank0 = WorkerSide(ctx, rank=0)  # in this process; rank 1 never started, so its socket is missing
    caches = [np.zeros((2, 256, 16, 2, 8), np.uint16) for _ in range(2)]
    rank0.register_kv_caches({"l0": caches[0], "l1": caches[1]})
    rank0.engine.store(np.arange(512), np.arange(512))
    lookups = RankLookups(ctx.socket_paths(), timeout_s=0.2)
    try:
        with pytest.raises(OSError):
            lookups.lookup(np.arange(600), pin_request_id="r")
        assert rank0.engine.stats().pins == 0, "rank 0's pins were released when rank 1 failed"
    finally:
        lookups.close()
        rank0.shutdown()
