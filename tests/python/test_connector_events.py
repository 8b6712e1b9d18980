"""KV events for routers, with vLLM-shaped objects: what the CPU tier gains and loses, from the engine
through the worker's get_kv_connector_kv_cache_events to the scheduler's take_events."""

import struct
from types import SimpleNamespace

import numpy as np
import pytest
from fake_vllm import Instances, Request, image

from lmcache4j import KvLayout, kv_events
from lmcache4j.connector import ConnectorContext
from lmcache4j.connector.events import SchedulerKvEvents, WorkerKvEvents
from lmcache4j.kv_events import AllBlocksCleared, BlockRemoved, BlockStored, EventsLost

LAYOUT = KvLayout(num_layers=2, num_kv_heads=2, head_size=8, block_size=16, num_blocks=256, dtype="bfloat16")
CHUNK_GB = 32 * 1024 / 1024**3   # one 256-token chunk of LAYOUT


@pytest.fixture
def vllm(tmp_path):
    instances = Instances(LAYOUT, str(tmp_path / "sockets"), "ev")
    yield lambda pool_chunks=64, **kw: instances(pool_gb=pool_chunks * CHUNK_GB, **kw)
    instances.close()


def step_events(v, scheduler_events=None):
    """One step's events as vLLM moves them: the worker's batch into the scheduler, then take_events."""
    events = scheduler_events or SchedulerKvEvents()
    events.update(SimpleNamespace(kv_cache_events=v.worker.take_kv_events()))
    return list(events.take())


def test_stored_chunks_are_reported_chained_with_their_tokens(vllm):
    v = vllm(kv_events=True)
    prompt = list(range(100, 700))
    v.run(Request("a", prompt))
    events = step_events(v)
    assert [type(e) for e in events] == [BlockStored] * 3
    assert [e.block_size for e in events] == [256, 256, 88]
    assert [e.token_ids for e in events] == [prompt[:256], prompt[256:512], prompt[512:]]
    assert events[0].parent_block_hash is None
    assert [e.parent_block_hash for e in events[1:]] == [e.block_hashes[0] for e in events[:2]]
    assert all(e.medium == "cpu" and len(e.block_hashes) == 1 and len(e.block_hashes[0]) == 16 for e in events)
    assert step_events(v) == [], "each event is reported once"
    v.run(Request("b", prompt))
    assert step_events(v) == [], "a hit stores nothing new"


def test_evictions_and_clears_are_reported_so_a_router_forgets_them(vllm):
    v = vllm(pool_chunks=3, kv_events=True)
    first = list(range(1000, 1768))
    v.run(Request("a", first))
    stored = step_events(v)
    v.run(Request("b", list(range(5000, 5256))))
    events = step_events(v)
    assert [type(e) for e in events] == [BlockRemoved, BlockStored], "3 pages: a's last chunk made room"
    assert events[0].block_hashes == stored[2].block_hashes
    v.worker.engine.clear()
    assert step_events(v) == [AllBlocksCleared()]


def test_multimodal_chunks_are_reported_with_the_tokens_they_are_keyed_by(vllm):
    v = vllm(kv_events=True)
    prompt = list(range(600))
    prompt[300:400] = [7] * 100
    v.run(Request("a", prompt, mm_features=[image("img-a", 300, 100)]))
    events = step_events(v)
    assert all(t < 0 for t in events[1].token_ids[300 - 256:400 - 256]), "the placeholders carry the image's hash"


def test_nothing_is_recorded_unless_vllm_publishes_events_and_only_rank_0_reports(vllm):
    quiet = vllm()
    quiet.run(Request("a", list(range(600))))
    assert quiet.worker.take_kv_events() is None
    quiet.worker.engine.record_kv_events(True)   # what the connector would do: the engine had recorded nothing
    assert quiet.worker.engine.take_kv_events() == []
    rank1 = vllm(rank=1, world_size=2, kv_events=True)
    rank1.worker.engine.store(np.arange(512), np.arange(512))
    assert rank1.worker.take_kv_events() is None
    assert rank1.worker.engine.take_kv_events() == [], "rank 1's engine records nothing (it would never be taken)"


def test_integer_block_hashes_as_vllm_gives_them(vllm):
    v = vllm(kv_events=True, int_block_hashes=True)
    v.run(Request("a", list(range(600))))
    events = step_events(v)
    assert all(isinstance(e.block_hashes[0], int) and 0 <= e.block_hashes[0] < 1 << 64 for e in events)
    assert events[1].parent_block_hash == events[0].block_hashes[0]


def test_the_scheduler_keeps_what_every_reporting_worker_saw():
    a, b, c = (BlockStored([bytes([i]) * 16], None, [i], 1) for i in range(3))

    def batch(events):
        w = WorkerKvEvents(num_workers=1)
        w.add_events(events)
        return w

    batches = [batch([a, b]), batch([b, c])]
    merged = SchedulerKvEvents()
    merged.update(SimpleNamespace(kv_cache_events=batches[0]))
    merged.update(SimpleNamespace(kv_cache_events=batches[1]))
    merged.update(SimpleNamespace(kv_cache_events=None))     # a worker with nothing to say
    merged.update(SimpleNamespace(kv_cache_events=["not", "a", "batch"]))
    assert list(merged.take()) == [b], "only the event both workers reported"
    assert list(merged.take()) == []
    one = SchedulerKvEvents()
    one.update(SimpleNamespace(kv_cache_events=batch([a, b])))
    assert list(one.take()) == [a, b], "in the order they happened"


def test_a_chunk_stored_evicted_and_stored_again_in_one_step_is_reported_in_that_order():
    a = BlockStored([b"a" * 16], None, [1], 1)
    gone = BlockRemoved([b"a" * 16])
    for seq in ([a, gone, a], [gone, a, gone], [a, AllBlocksCleared(), a]):
        one = SchedulerKvEvents()
        w = WorkerKvEvents(num_workers=1)
        w.add_events(seq)
        one.update(SimpleNamespace(kv_cache_events=w))
        assert list(one.take()) == seq, "a router must end where the CPU tier ends"
    both = SchedulerKvEvents()   # two workers that saw the same: once each, in order
    for _ in range(2):
        w = WorkerKvEvents(num_workers=1)
        w.add_events([a, gone, a])
        both.update(SimpleNamespace(kv_cache_events=w))
    assert list(both.take()) == [a, gone, a]


def test_records_decode_and_lost_events_are_counted(vllm, caplog):
    key, parent = bytes(range(16)), bytes(range(16, 32))
    raw = (struct.pack("<BBHI16s16s", 1, 1, 0, 2, key, parent) + struct.pack("<2i", -5, 7)
           + struct.pack("<BBHI16s16s", 2, 0, 0, 0, key, bytes(16))
           + struct.pack("<BBHI16s16s", 4, 0, 0, 9, bytes(16), bytes(16))
           + struct.pack("<BBHI16s16s", 3, 0, 0, 0, bytes(16), bytes(16)))
    assert kv_events.decode(raw) == [BlockStored([key], parent, [-5, 7], 2), BlockRemoved([key]), EventsLost(9),
                                     AllBlocksCleared()]
    with pytest.raises(ValueError, match="unknown KV event kind 9"):
        kv_events.decode(struct.pack("<BBHI16s16s", 9, 0, 0, 0, key, key))

    v = vllm(kv_events=True)
    v.worker.engine.take_kv_events = lambda: [EventsLost(3), BlockRemoved([key])]
    batch = v.worker.take_kv_events()
    assert batch.get_all_events() == [BlockRemoved([key])] and v.worker.kv_events_lost == 3
    assert any("dropped 3 KV events" in r.getMessage() for r in caplog.records)
    del v.worker.engine.take_kv_events


def test_nothing_is_reported_unless_enable_kv_events_is_on_too(vllm, caplog):
    """As in LMCache: vLLM publishing events is not enough, the configuration must ask for them."""
    caplog.set_level("INFO", logger="lmcache4j.connector")
    v = vllm(kv_events=True, enable_kv_events=False)
    assert not v.worker.reports_kv_events
    assert any("enable_kv_events is off" in r.getMessage() for r in caplog.records)
    v.run(Request("r", list(range(600))))
    assert v.worker.take_kv_events() is None
    on = vllm(kv_events=True)
    assert on.worker.reports_kv_events and on.worker.engine.config["enable_kv_events"] is True


def test_the_context_reads_vllms_kv_events_config(monkeypatch):
    cfg = SimpleNamespace(
        kv_transfer_config=SimpleNamespace(kv_role="kv_both", engine_id="x", kv_connector_extra_config={}),
        parallel_config=SimpleNamespace(tensor_parallel_size=1, pipeline_parallel_size=1, data_parallel_rank=0),
        cache_config=SimpleNamespace(block_size=16, cache_dtype="auto"), model_config=SimpleNamespace(model="m"),
        kv_events_config=SimpleNamespace(enable_kv_cache_events=True))
    monkeypatch.delenv("VLLM_KV_EVENTS_USE_INT_BLOCK_HASHES", raising=False)
    ctx = ConnectorContext.from_vllm_config(cfg)
    assert ctx.kv_events and ctx.int_block_hashes, "vLLM's defaults: events on as configured, integer hashes"
    monkeypatch.setenv("VLLM_KV_EVENTS_USE_INT_BLOCK_HASHES", "0")
    cfg.kv_events_config = None
    ctx = ConnectorContext.from_vllm_config(cfg)
    assert not ctx.kv_events and not ctx.int_block_hashes
