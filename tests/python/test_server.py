"""The Python package and the vLLM connector as clients of a real ``lmcache4j server``: engines with
no JVM in their process, sharing hits with another process through the server's pool."""

import json
import os
import subprocess
import sys
import textwrap
from types import SimpleNamespace

import numpy as np
import pytest
from conftest import random_caches, rows
from fake_vllm import Request, Vllm

from lmcache4j import Engine, EngineStateError, InvalidArgumentError, KvLayout
from lmcache4j.connector import ConnectorContext, RankLookups, SchedulerSide, WorkerSide
from lmcache4j.lookup_client import LookupClient
from server_process import ROOT, ServerProcess

LAYOUT = KvLayout(num_layers=2, num_kv_heads=2, head_size=8, block_size=16, num_blocks=256, dtype="bfloat16")


@pytest.fixture
def server():
    """A real server; stopped with SIGTERM at the end (exit 0, socket removed) unless a test killed it."""
    s = ServerProcess().start()
    killed = []
    yield SimpleNamespace(path=s.path, url=s.url, kill=lambda: (s.kill(), killed.append(1)))
    try:
        if not killed:
            s.stop()
    finally:
        s.remove()


def _client_env(url: str) -> dict:
    """Another process's environment: the server named, and no JDK anywhere (a client needs none),
    libjsig not preloaded and required if a JVM were to start."""
    env = {k: v for k, v in os.environ.items() if k not in ("LD_PRELOAD", "JAVA_HOME", "LMCACHE4J_JAVA_HOME")}
    env.update(PYTHONPATH=os.pathsep.join([os.path.join(ROOT, "src"), os.path.dirname(__file__)]),
               LMCACHE4J_SERVER=url, LMCACHE4J_JSIG="require", LMCACHE4J_JAVA_HOME="/nonexistent",
               JAVA_HOME="/nonexistent")
    return env


def _run_child(url: str, script: str, **env) -> dict:
    done = subprocess.run([sys.executable, "-c", textwrap.dedent(script)], env={**_client_env(url), **env},
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


CHILD_ENGINE = """
    import json, numpy as np
    from conftest import random_caches, rows
    from lmcache4j import Engine, EngineStateError, InvalidArgumentError, KvLayout
    layout = KvLayout(num_layers=2, num_kv_heads=2, head_size=8, block_size=16, num_blocks=256, dtype="bfloat16")
    engine = Engine(None, layout)             # LMCACHE4J_SERVER names the server
    mine = [np.zeros(layout.cache_shape, np.uint16) for _ in range(layout.num_layers)]
    engine.register_kv_caches(mine)
    first = list(range(5000, 5600))
    hit = engine.lookup(first)
    loaded = engine.retrieve(first, np.arange(1000, 1600))
    same = bool(np.array_equal(rows(mine, layout, np.arange(1000, 1600)),
                               rows(random_caches(layout, seed=5), layout, np.arange(0, 600))))
    theirs = random_caches(layout, seed=6)
    for c, t in zip(mine, theirs):
        c.reshape(2, -1, 16)[:, 2000:2600] = t.reshape(2, -1, 16)[:, 2000:2600]
    stored = engine.store(list(range(7000, 7600)), np.arange(2000, 2600))
    jvm = any("libjvm" in line for line in open("/proc/self/maps"))
    print(json.dumps(dict(hit=hit, loaded=loaded, same=same, stored=stored, via_server=engine.via_server, jvm=jvm)))
    engine.close()
"""


def test_the_package_shares_hits_both_ways_with_another_process(server):
    engine = Engine({"lmcache4j.server": server.url}, LAYOUT)
    assert engine.via_server
    caches = random_caches(LAYOUT, seed=5)
    engine.register_kv_caches(caches)
    assert engine.store(list(range(5000, 5600)), np.arange(0, 600)) == 600
    child = _run_child(server.url, CHILD_ENGINE)
    assert child == dict(hit=600, loaded=600, same=True, stored=600, via_server=True, jvm=False)
    mine = [np.zeros(LAYOUT.cache_shape, np.uint16) for _ in range(LAYOUT.num_layers)]
    engine.register_kv_caches(mine)
    assert engine.lookup(list(range(7000, 7600)), pin_request_id="r") == 600
    assert engine.retrieve(list(range(7000, 7600)), np.arange(3000, 3600)) == 600
    assert np.array_equal(rows(mine, LAYOUT, np.arange(3000, 3600)),
                          rows(random_caches(LAYOUT, seed=6), LAYOUT, np.arange(2000, 2600)))
    assert engine.unpin("r") == 3
    s = engine.stats()
    assert (s.leases, s.pins) == (0, 0) and s.chunks >= 6
    assert engine.config["chunk_size"] == 256
    engine.close()


CHILD_CONNECTOR = """
    import json, os
    from fake_vllm import Request, Vllm
    from lmcache4j import KvLayout
    from lmcache4j.connector import ConnectorContext, RankLookups, SchedulerSide, WorkerSide
    layout = KvLayout(num_layers=2, num_kv_heads=2, head_size=8, block_size=16, num_blocks=256, dtype="bfloat16")
    ctx = ConnectorContext(block_size=16, model="m", instance_id="child", socket_dir=os.environ["SOCKETS"],
                           settings={}, kv_cache_dtype="bfloat16")  # the server: LMCACHE4J_SERVER
    worker = WorkerSide(ctx, rank=0)
    v = Vllm(layout, SchedulerSide(ctx, RankLookups(ctx.socket_paths())), worker)
    v.register()
    prompt = list(range(1000, 1512))
    second = Request("b", prompt)
    offered = v.add(second)
    exact = bool(v.loaded_exactly(second, 512))
    v.finish(second)
    s = worker.engine.stats()
    jvm = any("libjvm" in line for line in open("/proc/self/maps"))
    print(json.dumps(dict(offered=offered, exact=exact, leases=s.leases, pins=s.pins, jvm=jvm)))
    worker.shutdown()
"""


def test_the_connector_loads_what_another_vllm_process_stored(server, tmp_path):
    vllm_config = SimpleNamespace(
        kv_transfer_config=SimpleNamespace(kv_role="kv_both", engine_id="parent",
                                           kv_connector_extra_config={"lmcache4j.server": server.url,
                                                                      "lmcache4j.socket_dir": str(tmp_path / "s")}),
        parallel_config=SimpleNamespace(tensor_parallel_size=1, pipeline_parallel_size=1),
        cache_config=SimpleNamespace(block_size=16, cache_dtype="bfloat16"), model_config=SimpleNamespace(model="m"))
    ctx = ConnectorContext.from_vllm_config(vllm_config)
    assert ctx.settings == {"lmcache4j.server": server.url}
    worker = WorkerSide(ctx, rank=0)
    v = Vllm(LAYOUT, SchedulerSide(ctx, RankLookups(ctx.socket_paths())), worker)
    v.register()
    assert worker.engine.via_server
    prompt = list(range(1000, 1512))
    assert v.run(Request("a", prompt)) == 0
    # A scheduler in another process asks over the worker's lookup socket, served here in Python.
    client = LookupClient(ctx.socket_path(0))
    assert client.lookup(prompt) == 512 and client.config()["chunk_size"] == 256
    client.close()
    sockets = tmp_path / "child"
    sockets.mkdir(mode=0o700)
    child = _run_child(server.url, CHILD_CONNECTOR, SOCKETS=str(sockets))
    assert child == dict(offered=511, exact=True, leases=0, pins=0, jvm=False)
    s = worker.engine.stats()
    assert (s.leases, s.pins) == (0, 0)
    worker.shutdown()
    v.scheduler.lookups.close()
    assert not os.path.exists(ctx.socket_path(0)), "the lookup socket outlived the engine"


def test_the_settings_decide_over_the_environment_and_a_file_can_name_the_server(server, tmp_path, monkeypatch):
    monkeypatch.setenv("LMCACHE4J_SERVER", f"unix://{tmp_path}/nobody.sock")
    with pytest.raises(EngineStateError, match="cannot connect to the LMCache4j server"):
        Engine({"chunk_size": 256}, LAYOUT)
    with pytest.raises(InvalidArgumentError, match="unix:///absolute/path"):
        Engine({"lmcache4j.server": "tcp://localhost:1"}, LAYOUT)
    embedded = Engine({"lmcache4j.server": None, "chunk_size": 256, "max_local_cpu_size": 0.05}, LAYOUT)
    assert not embedded.via_server
    embedded.close()
    monkeypatch.delenv("LMCACHE4J_SERVER")
    config = tmp_path / "client.yaml"
    config.write_text(f"chunk_size: 256\nextra_config:\n  lmcache4j.server: \"{server.url}\"\n")
    client = Engine(str(config), LAYOUT)
    assert client.via_server and client.config["chunk_size"] == 256
    client.close()


def test_the_connector_serves_without_the_cache_while_the_server_is_gone(server, tmp_path):
    ctx = ConnectorContext(block_size=16, model="m", instance_id="gone", socket_dir=str(tmp_path / "s"),
                           settings={"lmcache4j.server": server.url}, kv_cache_dtype="bfloat16")
    worker = WorkerSide(ctx, rank=0)
    v = Vllm(LAYOUT, SchedulerSide(ctx, RankLookups(ctx.socket_paths())), worker)
    v.register()
    prompt = list(range(2000, 2512))
    assert v.run(Request("a", prompt)) == 0
    second = Request("b", prompt)
    assert v.add(second) == 511
    assert v.loaded_exactly(second, 512)
    v.finish(second)
    server.kill()
    third = Request("c", prompt + [1, 2, 3])
    assert v.add(third) == 0, "a gone server is a miss"
    v.finish(third)                       # its store is skipped, without an error
    assert worker.take_failed_blocks() == set()
    worker.shutdown()
    v.scheduler.lookups.close()
