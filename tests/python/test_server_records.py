"""A client's pages are the engine's chunk format: what an embedded engine wrote to its disk tier a
client of a server on that disk retrieves byte for byte, and what a client stored an embedded
engine opened on the server's disk afterwards retrieves byte for byte (blocks_first and mla caches,
blocks in shuffled order, so that the client's row arithmetic is the one checked, not a round trip
of its own)."""

import numpy as np
import pytest
from conftest import random_caches, rows
from server_process import ServerProcess

from lmcache4j import Engine, KvLayout

LAYOUTS = [KvLayout(num_layers=3, num_kv_heads=2, head_size=8, block_size=16, num_blocks=128, dtype="bfloat16",
                    kv_format="blocks_first"),
           KvLayout(num_layers=2, num_kv_heads=1, head_size=40, block_size=16, num_blocks=128, dtype="bfloat16",
                    kv_format="mla")]


def _slots(seed: int, n: int) -> np.ndarray:
    order = np.random.default_rng(seed).permutation(128)
    return np.array([order[t // 16] * 16 + t % 16 for t in range(n)], dtype=np.int64)


@pytest.mark.parametrize("layout", LAYOUTS, ids=lambda layout: layout.kv_format)
def test_client_pages_and_embedded_records_are_one_format(tmp_path, layout):
    disk = tmp_path / "disk"
    settings = {"chunk_size": 64, "max_local_cpu_size": 0.05, "local_disk": f"file://{disk}/",
                "max_local_disk_size": 0.1, "extra_config": {"disk_write_through": True}}
    first, second = list(range(100, 300)), list(range(900, 1100))     # three chunks and a partial one each
    put, get = _slots(1, 200), _slots(2, 200)

    embedded = Engine(settings, layout)
    written = random_caches(layout, seed=7)
    embedded.register_kv_caches(written)
    assert embedded.store(first, put) == 200
    embedded.close()                                  # its chunks are on disk now

    server = ServerProcess(f"chunk_size: 64\nmax_local_cpu_size: 0.05\nlocal_disk: \"file://{disk}/\"\n"
                           f"max_local_disk_size: 0.1\nextra_config: {{disk_write_through: true}}\n").start()
    try:
        client = Engine({"lmcache4j.server": server.url}, layout)
        mine = [np.zeros(layout.cache_shape, np.uint16) for _ in range(layout.num_layers)]
        client.register_kv_caches(mine)
        assert client.lookup(first) == 200, "the embedded engine's records are a hit from the server's disk"
        assert client.retrieve(first, get) == 200
        assert np.array_equal(rows(mine, layout, get), rows(written, layout, put))
        stored = random_caches(layout, seed=8)
        client.register_kv_caches(stored)
        assert client.store(second, put) == 200
        client.close()
        server.stop()                                 # the disk tier keeps what the client stored
    finally:
        server.remove()

    embedded = Engine(settings, layout)
    mine = [np.zeros(layout.cache_shape, np.uint16) for _ in range(layout.num_layers)]
    embedded.register_kv_caches(mine)
    assert embedded.lookup(second) == 200, "the client's chunks are a hit for an embedded engine on that disk"
    assert embedded.retrieve(second, get) == 200
    assert np.array_equal(rows(mine, layout, get), rows(stored, layout, put))
    s = embedded.stats()
    assert (s.leases, s.pins) == (0, 0)
    embedded.close()
