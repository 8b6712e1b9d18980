"""Tensor-parallel workers as clients of one ``lmcache4j server``: through the C library's client mode,
each ``Engine(world_size=2, rank=r)`` reaches its rank's engine on the server, which holds half the
node's pool; ranks never hit each other's shards; another world size and another model are refused."""

import numpy as np
import pytest
from conftest import random_caches, rows

from lmcache4j import Engine, InvalidArgumentError, KvLayout
from server_process import ServerProcess

LAYOUT = KvLayout(num_layers=2, num_kv_heads=2, head_size=8, block_size=16, num_blocks=256, dtype="bfloat16")
NODE_POOL_GB = 0.05  # ServerProcess's default configuration: the node's max_local_cpu_size


@pytest.fixture
def server():
    s = ServerProcess().start()
    try:
        yield s
        s.stop()   # SIGTERM: every rank's engine closes, exit 0
    finally:
        s.remove()


def _worker(server, rank: int, world: int = 2, model: str = "m") -> Engine:
    return Engine({"lmcache4j.server": server.url}, LAYOUT, model=model, world_size=world, rank=rank)


def test_each_rank_reaches_its_own_engine_with_half_the_nodes_pool(server):
    prompt = list(range(3000, 3512))
    ranks = [_worker(server, r) for r in (0, 1)]
    shards = [random_caches(LAYOUT, seed=10 + r) for r in (0, 1)]
    for engine, caches in zip(ranks, shards):
        assert engine.via_server
        engine.register_kv_caches(caches)
    assert ranks[0].store(prompt, np.arange(0, 512)) == 512
    assert ranks[1].lookup(prompt) == 0, "rank 0's shard is no hit for rank 1"
    assert ranks[1].store(prompt, np.arange(512, 1024)) == 512

    # Another instance of the same TP=2 model: each rank loads its own rank's shard, byte for byte.
    again = [_worker(server, r) for r in (0, 1)]
    for r, engine in enumerate(again):
        mine = [np.zeros(LAYOUT.cache_shape, np.uint16) for _ in range(LAYOUT.num_layers)]
        engine.register_kv_caches(mine)
        assert engine.retrieve(prompt, np.arange(2048, 2560)) == 512
        stored_at = np.arange(0, 512) if r == 0 else np.arange(512, 1024)
        assert np.array_equal(rows(mine, LAYOUT, np.arange(2048, 2560)), rows(shards[r], LAYOUT, stored_at))

    page = 2 * LAYOUT.num_layers * 256 * LAYOUT.num_kv_heads * LAYOUT.head_size * 2  # a chunk: 32 KiB, 4 KiB-aligned
    for engine in ranks + again:
        s = engine.stats()
        assert s.capacity_pages == int(NODE_POOL_GB / 2 * 1024 ** 3) // page, "half the node's pool"
        assert (s.chunks, s.leases, s.pins) == (2, 0, 0)
    assert 'worker_id="1"' in ranks[1].metrics_text() and 'worker_id="0"' not in ranks[1].metrics_text()
    for engine in ranks + again:
        engine.close()
    assert "connected as rank 1 of world size 2" in server.log()


def test_another_world_size_and_another_model_are_refused_naming_both(server):
    rank0 = _worker(server, 0)
    with pytest.raises(InvalidArgumentError, match="world size 2, not 4"):
        _worker(server, 1, world=4)
    with pytest.raises(InvalidArgumentError, match=r"model other \(the server's engine has m\)"):
        _worker(server, 1, model="other")
    rank0.register_kv_caches(random_caches(LAYOUT, seed=1))
    assert rank0.store(list(range(10, 266)), np.arange(0, 256)) == 256, "the open rank is unaffected"
    rank0.close()
