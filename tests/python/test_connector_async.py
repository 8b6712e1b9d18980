"""Asynchronous loading (enable_async_loading) with vLLM-shaped objects, a real engine and a real
disk tier: a hit on disk is offered with load_kv_async, loaded in the background, reported in
get_finished's finished_recving, and checked byte for byte; aborts, corrupt records and a pool too
small for the hit, Redis killed under a load are recomputed or released, and nothing is left
leased or pinned. Also the Python side of the C ABI's prefetch handles."""

import shutil
import socket
import subprocess
import time
from pathlib import Path
from types import SimpleNamespace

import pytest
from conftest import SMALL_POOL
from fake_vllm import Instances, Request, RequestStatus, settled  # noqa: F401 (settled: for other modules)

from lmcache4j import Engine, EngineClosedError, InvalidArgumentError, KvLayout, PrefetchState
from lmcache4j.lookup_client import LookupClient

LAYOUT = KvLayout(num_layers=2, num_kv_heads=2, head_size=8, block_size=16, num_blocks=256, dtype="bfloat16")
PROMPT = list(range(5000, 5600))          # 600 tokens: chunks of 256, 256 and 88 once stored
ASKED = PROMPT + list(range(9000, 9200))  # shares two whole chunks (512 tokens) with PROMPT
NOTHING = SimpleNamespace(scheduled_new_reqs=[], scheduled_cached_reqs=SimpleNamespace(req_ids=[]),
                          num_scheduled_tokens={}, finished_req_ids=set())


@pytest.fixture
def make(tmp_path):
    """Makes vLLM instances on one disk directory; checks at the end that none leaked a lease or pin."""
    instances = Instances(LAYOUT, str(tmp_path / "sockets"), "as")

    def instance(pool_gb=0.05, disk=True, **settings):
        if disk:
            settings.update(local_disk=str(tmp_path / "disk"), max_local_disk_size=0.05,
                            extra_config={"disk_write_through": True})
        return instances(pool_gb, settings=settings)

    yield instance
    instances.close()


def on_disk(make, prompt=PROMPT):
    """``prompt`` computed and stored by one instance, whose engine then closes (its chunks stay on disk)."""
    first = make()
    first.run(Request("first", prompt))
    first.worker.shutdown()
    return first


def offer(v, request):
    """The scheduler's side of a waiting request: the offer, the blocks, the step's plan; the worker starts it."""
    external, is_async = v.scheduler.get_num_new_matched_tokens(request, 0)
    return external, is_async, allocate_and_start(v, request, external)


def allocate_and_start(v, request, external):
    """vLLM allocates the offered tokens' blocks and parks the request; the step's plan starts its load."""
    request.num_computed_tokens = external
    v._allocate(request, external)
    v.scheduler.update_state_after_alloc(request, external, (list(request.block_ids),))
    request.status = RequestStatus.WAITING
    plan = v.scheduler.build_step_plan(NOTHING)
    v.worker.start_load(plan)
    return plan


def until_landed(v, finished=()):
    """Steps (get_finished, then the step's load errors, as vLLM asks) until the worker reports a load."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        _, recving = v.worker.get_finished(set(finished))
        failed = v.worker.take_failed_blocks()
        if recving:
            v.scheduler.update_connector_output(SimpleNamespace(finished_recving=recving))
            return recving, failed
        assert not failed, "blocks reported failed before their request was reported"
        time.sleep(0.01)
    raise AssertionError("no background load landed")


def lands_in_background(v, r, hit):
    """Offers ``r``, whose hit of ``hit`` tokens lies on disk: loaded in the background, landed byte for byte."""
    external, is_async, plan = offer(v, r)
    assert (external, is_async) == (hit, True)
    assert [p.load.background for p in plan.requests] == [True]
    recving, failed = until_landed(v)
    assert (recving, failed) == ({r.request_id}, set())
    assert v.loaded_exactly(r, hit)
    assert v.worker.engine.stats().retrieved_tokens == hit


def test_a_disk_hit_loads_in_the_background_and_lands_byte_exact(make):
    on_disk(make)
    v = make(enable_async_loading=True)
    r = Request("r", ASKED)
    lands_in_background(v, r, 512)
    # The request joins the batch: vLLM schedules it as new, with its hit computed; nothing loads twice.
    v.running["r"] = r
    v._allocate(r, len(ASKED))
    v._step([SimpleNamespace(req_id="r", prompt_token_ids=r.prompt_token_ids, block_ids=(list(r.block_ids),),
                             num_computed_tokens=512, lora_request=None, mm_features=None, prompt_embeds=None)],
            [], {"r": len(ASKED) - 512})
    assert all(p.load is None for p in v.plans[-1].requests)
    assert v.worker.engine.stats().retrieved_tokens == 512
    assert v.scheduler.request_finished(r, r.block_ids) == (False, None)   # landed: blocks free at once
    v.running.pop("r")


def test_a_whole_prompt_hit_leaves_the_last_token_unallocated_and_unwritten(make):
    prompt = PROMPT[:593]   # vLLM computes the last token: 592 tokens to load, 37 whole blocks, none for the last
    on_disk(make, prompt)
    v = make(enable_async_loading=True)
    r = Request("whole", prompt)
    external, is_async, plan = offer(v, r)
    assert (external, is_async) == (592, True)
    assert len(r.block_ids) == 37 and list(plan.requests[0].slot_mapping[-2:]) == [r.block_ids[-1] * 16 + 15, -1]
    assert until_landed(v) == ({"whole"}, set())
    assert v.loaded_exactly(r, 592)
    v.scheduler.request_finished(r, r.block_ids)


def test_without_a_lower_tier_or_the_setting_hits_load_synchronously(make):
    cpu_only = make(disk=False, enable_async_loading=True)
    cpu_only.run(Request("a", PROMPT))
    assert cpu_only.run(Request("b", ASKED)) == 512   # Vllm.add asserts the offer was synchronous
    on_disk(make)
    default = make()
    assert default.run(Request("c", ASKED)) == 512
    assert default.loaded_exactly(Request("c", ASKED), 0)


def test_a_hit_all_in_the_pool_loads_synchronously_and_lookups_say_where_a_hit_lies(make):
    on_disk(make)
    v = make(enable_async_loading=True)
    client = LookupClient(v.worker.socket_path)
    try:
        assert client.lookup_tiers(ASKED) == (512, 0)   # on disk only
        r = Request("first-load", ASKED)
        assert offer(v, r)[1] is True
        assert until_landed(v) == ({"first-load"}, set())
        v.scheduler.request_finished(r, r.block_ids)
        assert client.lookup_tiers(ASKED) == (512, 512)   # promoted into the pool by the load
        assert client.lookup(ASKED) == 512
    finally:
        client.close()
    assert v.worker.engine.lookup_tiers(ASKED, pin_request_id="x") == (512, 512)
    assert v.worker.engine.unpin("x") == 2
    # All in the pool, and pinned by the lookup: copied at once, the request joins this step's batch.
    again = Request("again", ASKED)
    assert v.run(again) == 512   # Vllm.add asserts the offer was synchronous
    assert v.loaded_exactly(again, 512)


def test_an_abort_while_loading_keeps_the_blocks_until_the_load_has_stopped(make):
    on_disk(make)
    v = make(enable_async_loading=True)
    r = Request("gone", ASKED)
    offer(v, r)
    r.status = RequestStatus.FINISHED_ABORTED
    # vLLM must not free blocks a load may still write into: it waits for finished_recving.
    assert v.scheduler.request_finished(r, r.block_ids) == (True, None)
    recving, failed = until_landed(v, finished={"gone"})
    assert (recving, failed) == ({"gone"}, set())   # cancelled or landed: reported once, nothing to recompute
    assert v.worker.get_finished(set()) == (None, None)
    assert v.scheduler.stats()["aborted_requests"] == 1


def test_a_record_corrupted_under_the_load_is_recomputed(make, tmp_path):
    on_disk(make)
    v = make(enable_async_loading=True)
    r = Request("bad", ASKED)
    external, is_async = v.scheduler.get_num_new_matched_tokens(r, 0)
    assert (external, is_async) == (512, True)   # the lookup saw both chunks on disk
    records = [f for f in Path(tmp_path / "disk").rglob("*") if f.is_file() and f.stat().st_size > 4096]
    assert len(records) == 3
    for f in records:   # between the lookup and the load's read: every record fails its check
        data = bytearray(f.read_bytes())
        data[len(data) // 2] ^= 0xFF
        f.write_bytes(bytes(data))
    allocate_and_start(v, r, external)
    recving, failed = until_landed(v)
    assert recving == {"bad"} and failed == set(r.block_ids[:32])   # all 512 tokens' blocks: vLLM recomputes them
    assert v.worker.engine.stats().retrieved_tokens == 0
    v.scheduler.request_finished(r, r.block_ids)


def test_a_pool_smaller_than_the_hit_fills_with_pinned_chunks_and_the_rest_is_recomputed(make):
    first = make(max_local_disk_size=0.05)
    long_prompt = list(range(20000, 20000 + 8 * 256 + 10))
    first.run(Request("long", long_prompt))
    first.worker.shutdown()
    v = make(pool_gb=0.0002, enable_async_loading=True)   # 0.0002 GiB: 6 chunks of 32 KiB
    pages = v.worker.engine.stats().capacity_pages
    assert 0 < pages < 8
    r = Request("big", long_prompt[:8 * 256] + [1, 2, 3])
    external, is_async, _ = offer(v, r)
    assert (external, is_async) == (8 * 256, True)
    recving, failed = until_landed(v)
    assert recving == {"big"}
    assert failed == set(r.block_ids[pages * 16:8 * 16])   # what did not fit is recomputed
    assert v.loaded_exactly(r, pages * 256)
    v.scheduler.request_finished(r, r.block_ids)


def test_shutdown_while_loading_cancels_and_leaks_nothing(make):
    on_disk(make)
    v = make(enable_async_loading=True)
    offer(v, Request("late", ASKED))
    engine = v.worker.engine
    v.worker.background.shutdown()
    assert v.worker.background.running == 0
    assert settled(engine)


@pytest.fixture
def redis(tmp_path):
    """A redis-server of this test's own (it is killed mid-test), on a free loopback port."""
    if shutil.which("redis-server") is None:
        pytest.skip("no redis-server here (./test.sh installs Debian's redis-server)")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    (tmp_path / "redis").mkdir()
    server = subprocess.Popen(["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                               "--appendonly", "no", "--dir", str(tmp_path / "redis")],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            time.sleep(0.05)
    yield SimpleNamespace(url=f"redis://127.0.0.1:{port}", process=server)
    server.kill()
    server.wait()


def test_redis_dying_under_a_background_load_is_recomputed(make, redis):
    remote = {"remote_url": redis.url, "extra_config": {"remote_timeout_ms": 500}}
    first = make(disk=False, **remote)
    first.run(Request("first", PROMPT))
    first.worker.shutdown()   # its Redis writes end before its engine closes
    v = make(disk=False, enable_async_loading=True, **remote)
    r = Request("cut", ASKED)
    external, is_async = v.scheduler.get_num_new_matched_tokens(r, 0)
    assert (external, is_async) == (512, True)   # the lookup saw both chunks in Redis
    redis.process.kill()   # between the lookup and the load's reads
    redis.process.wait()
    allocate_and_start(v, r, external)
    recving, failed = until_landed(v)
    assert recving == {"cut"} and failed == set(r.block_ids[:32])
    assert v.worker.engine.stats().retrieved_tokens == 0
    v.scheduler.request_finished(r, r.block_ids)


# ---------------------------------------------------------------- Engine.prefetch over the C ABI

def test_prefetch_from_disk_then_retrieve_from_the_pool(make, tmp_path):
    on_disk(make)
    settings = {**SMALL_POOL, "local_disk": str(tmp_path / "disk"), "max_local_disk_size": 0.05}
    with Engine(settings, LAYOUT, model="m") as engine:
        with engine.prefetch(ASKED, pin_request_id="p") as p:
            assert p.wait(30) and p.state() == PrefetchState.DONE and p.done
            assert (p.ready_tokens, p.tokens) == (512, 800)
            assert "DONE" in repr(p)
            assert p.cancel() is False
            assert engine.stats().pins == 2
        assert engine.unpin("p") == 2
        assert engine.lookup(ASKED) == 512 and engine.stats().chunks == 2   # in the pool now


def test_prefetch_handles_refuse_misuse(tmp_path):
    with Engine(SMALL_POOL, LAYOUT) as engine:
        p = engine.prefetch(PROMPT)
        assert p.state() == PrefetchState.DONE and p.ready_tokens == 0   # no lower tier: finished on return
        for bad in (-1, float("nan"), float("inf"), "1", True):
            with pytest.raises(InvalidArgumentError):
                p.wait(bad)
        for long_wait in (9.3e15, 1e18, 2**62, 1e300):   # past int64 milliseconds: as long as it can wait
            assert p.wait(long_wait)
        with pytest.raises(InvalidArgumentError, match="pin_request_id contains a NUL"):
            engine.prefetch(PROMPT, pin_request_id="a\0b")
        p.close()
        p.close()   # twice: nothing
        with pytest.raises(EngineClosedError, match="prefetch is closed"):
            p.state()
        q = engine.prefetch(PROMPT)
    with pytest.raises(EngineClosedError, match="engine is closed"):
        q.wait(0)
    q.close()   # after the engine: nothing
    assert "closed" in repr(q)
