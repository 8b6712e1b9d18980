"""Many threads at once on one engine, and an engine closed under their feet."""

import threading

import numpy as np
from conftest import random_caches, rows, zero_rows

from lmcache4j import EngineClosedError, KvLayout

LAYOUT = KvLayout(num_layers=2, num_kv_heads=2, head_size=16, block_size=16, num_blocks=256, dtype="bfloat16",
                  kv_format="blocks_first")


def run_threads(n, target):
    errors = []

    def guarded(i):
        try:
            target(i)
        except BaseException as e:  # collected and re-raised in the test's thread
            errors.append(e)

    threads = [threading.Thread(target=guarded, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return errors


def test_threads_store_and_retrieve_their_own_prompts_at_once(open_engine):
    engine = open_engine(LAYOUT)
    caches = random_caches(LAYOUT, 5)
    engine.register_kv_caches(caches)

    def work(i):
        rng = np.random.default_rng(i)
        slots = np.arange(i * 512, i * 512 + 500)
        for _ in range(8):
            tokens = rng.integers(0, 32000, 500)
            expected = rows(caches, LAYOUT, slots).copy()
            assert engine.store(tokens, slots) == 500
            assert engine.lookup(tokens, pin_request_id=f"t{i}") == 500
            zero_rows(caches, LAYOUT, slots)
            assert engine.retrieve(tokens, slots) == 500
            assert engine.unpin(f"t{i}") == 2
            assert rows(caches, LAYOUT, slots).tobytes() == expected.tobytes()

    assert run_threads(8, work) == []
    assert engine.stats().store_requests == 64


def test_closing_while_threads_call_only_raises_engine_closed(open_engine):
    engine = open_engine(LAYOUT)
    engine.register_kv_caches(random_caches(LAYOUT, 6))
    started = threading.Barrier(7)

    errors = []

    def work(i):
        tokens, slots = np.arange(i, i + 300), np.arange(i * 300, i * 300 + 300)
        started.wait()
        try:
            for _ in range(2000):
                engine.store(tokens, slots)
                engine.retrieve(tokens, slots)
        except EngineClosedError:
            return
        except BaseException as e:
            errors.append(e)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    started.wait()
    engine.close()
    for t in threads:
        t.join(60)
    assert errors == [] and not any(t.is_alive() for t in threads)


def test_registering_again_while_a_retrieve_runs_waits_for_it_and_never_crashes(open_engine):
    # The rule: a registration waits for the calls running on the old caches (and their copies), so
    # the old caches may be freed once it returns. Before, this freed caches a running copy wrote
    # into and the process died in the JVM's arraycopy. The caches are large enough (42 MB a layer)
    # that freeing them gives their pages back to the system, so a late write faults.
    layout = KvLayout(num_layers=2, num_kv_heads=2, head_size=16, block_size=16, num_blocks=20480, dtype="bfloat16",
                      kv_format="flash_attn")
    engine = open_engine(layout)
    rng = np.random.default_rng(3)
    tokens = rng.integers(0, 32000, 2000)
    slots = np.linspace(0, layout.num_blocks * layout.block_size - 1, 2000).astype(np.int64)

    def caches(seed):
        fresh = [np.zeros(layout.cache_shape, np.uint16) for _ in range(layout.num_layers)]
        for c in fresh:
            c.reshape(2, -1, 32)[:, slots] = np.random.default_rng(seed).integers(0, 65535, (2, 2000, 32))
        return fresh

    engine.register_kv_caches(caches(7))
    assert engine.store(tokens, slots) == 2000
    stop = threading.Event()
    loaded = []

    def retrieve(_):
        while not stop.is_set():
            loaded.append(engine.retrieve(tokens, slots))

    def register(_):
        try:
            for i in range(12):
                engine.register_kv_caches(caches(100 + i))  # the previous ones lose their last reference
        finally:
            stop.set()

    errors = run_threads(2, lambda i: (retrieve if i == 0 else register)(i))
    assert not errors, errors
    assert loaded and all(n == 2000 for n in loaded)
    last = caches(999)
    engine.register_kv_caches(last)
    assert engine.retrieve(tokens, slots) == 2000
    assert np.array_equal(last[0].reshape(2, -1, 32)[:, slots], caches(7)[0].reshape(2, -1, 32)[:, slots])


def test_metrics_read_while_threads_store_are_whole(open_engine):
    """The metrics grow while they are read (counters gain digits): every read is whole JSON or text."""
    engine = open_engine(LAYOUT, {"chunk_size": 16, "max_local_cpu_size": 0.0005})
    engine.register_kv_caches(random_caches(LAYOUT, 7))
    stop = threading.Event()

    def store(i):
        rng = np.random.default_rng(i)
        while not stop.is_set():
            tokens = rng.integers(0, 32000, 64)
            engine.store(tokens, np.arange(i * 64, i * 64 + 64))
            engine.lookup(tokens)
            engine.count_prompt(64, 3)

    storers = [threading.Thread(target=store, args=(i,)) for i in range(2)]
    for t in storers:
        t.start()
    try:
        for _ in range(300):
            assert engine.metrics()["metrics"]
            assert engine.metrics_text().endswith("\n")
    finally:
        stop.set()
        for t in storers:
            t.join(60)
