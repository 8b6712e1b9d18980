"""Protocol version 2 from Python: prefetches and layer-by-layer copies of engines that are clients of
a real ``lmcache4j server``, and the vLLM connector's ``enable_async_loading`` and ``use_layerwise``
on them, byte for byte what an embedded engine loads; nothing left leased or pinned."""

from types import SimpleNamespace

import pytest
from fake_vllm import Request, Vllm
from test_connector_events import step_events
from test_connector_async import ASKED, PROMPT, lands_in_background, settled
from test_connector_layerwise import saves_and_loads_layer_by_layer

from lmcache4j import EngineClosedError, KvLayout, PrefetchState
from lmcache4j.kv_events import BlockStored
from lmcache4j.connector import ConnectorContext, RankLookups, SchedulerSide, WorkerSide
from server_process import ServerProcess

LAYOUT = KvLayout(num_layers=2, num_kv_heads=2, head_size=8, block_size=16, num_blocks=256, dtype="bfloat16")


@pytest.fixture
def disk_server(tmp_path):
    """A server on a disk tier; ``restart()`` stops it (SIGTERM) and starts it on the same disk, so
    that what it held lies on disk only."""
    s = ServerProcess(f"chunk_size: 256\nmax_local_cpu_size: 0.05\nlocal_disk: \"file://{tmp_path}/disk/\"\n"
                      "max_local_disk_size: 0.05\n").start()

    def restart():
        s.stop()
        s.start()

    yield SimpleNamespace(url=s.url, restart=restart)
    try:
        s.stop()
    finally:
        s.remove()


def vllm(url, tmp_path, name, kv_events=False, **settings):
    ctx = ConnectorContext(block_size=LAYOUT.block_size, model="m", instance_id=name,
                           socket_dir=str(tmp_path / f"sockets-{name}"), kv_cache_dtype="bfloat16",
                           settings={"lmcache4j.server": url, **settings}, kv_events=kv_events)
    v = Vllm(LAYOUT, SchedulerSide(ctx, RankLookups(ctx.socket_paths())), WorkerSide(ctx, rank=0))
    v.register()
    assert v.worker.engine.via_server
    return v


def close(v):
    assert settled(v.worker.engine)
    v.worker.shutdown()
    v.scheduler.lookups.close()


def test_a_client_connector_loads_a_disk_hit_in_the_background_byte_exact(disk_server, tmp_path):
    first = vllm(disk_server.url, tmp_path, "first", enable_async_loading=True)
    assert first.run(Request("first", PROMPT)) == 0
    close(first)
    disk_server.restart()                 # the prompt is on the server's disk only now
    v = vllm(disk_server.url, tmp_path, "second", enable_async_loading=True)
    r = Request("r", ASKED)
    lands_in_background(v, r, 512)
    assert v.scheduler.request_finished(r, r.block_ids) == (False, None)
    close(v)


def test_client_prefetch_handles_answer_as_embedded_ones(disk_server, tmp_path):
    first = vllm(disk_server.url, tmp_path, "first")
    first.run(Request("first", PROMPT))
    close(first)
    disk_server.restart()
    engine = vllm(disk_server.url, tmp_path, "second").worker.engine
    with engine.prefetch(ASKED, pin_request_id="p") as p:
        assert p.wait(30) and p.state() == PrefetchState.DONE
        assert (p.ready_tokens, p.tokens) == (512, 800)
        assert p.cancel() is False
        assert engine.stats().pins == 2
    assert engine.unpin("p") == 2
    with pytest.raises(EngineClosedError, match="prefetch is closed"):
        p.state()
    q = engine.prefetch(list(range(1, 300)))
    assert q.wait(0.0) in (True, False) and q.wait(30) and q.ready_tokens == 0
    q.close()
    assert (engine.stats().leases, engine.stats().pins) == (0, 0)


def test_a_client_connector_with_use_layerwise_loads_layer_by_layer_byte_exact(disk_server, tmp_path):
    v = vllm(disk_server.url, tmp_path, "lw", use_layerwise=True)
    saves_and_loads_layer_by_layer(v, list(range(1000, 1600)), LAYOUT.num_layers)
    close(v)


def test_every_client_connector_reports_the_kv_events_of_the_nodes_cache(disk_server, tmp_path):
    a = vllm(disk_server.url, tmp_path, "a", kv_events=True, enable_kv_events=True)
    b = vllm(disk_server.url, tmp_path, "b", kv_events=True, enable_kv_events=True)
    prompt = list(range(100, 700))
    a.run(Request("a", prompt))
    seen_by_a, seen_by_b = step_events(a), step_events(b)
    assert [type(e) for e in seen_by_a] == [BlockStored] * 3
    assert [e.token_ids for e in seen_by_a] == [prompt[:256], prompt[256:512], prompt[512:]]
    assert seen_by_b == seen_by_a, "a chunk any client stored is one every client can hit"
    assert step_events(a) == [] and step_events(b) == []
    close(a)
    close(b)
