"""Engine over the C ABI: byte-exact store and retrieve on numpy paged caches, prefixes, scopes,
configuration, and every way an argument can be wrong."""

import json

import numpy as np
import pytest
from conftest import SMALL_POOL, random_caches, rows, zero_rows

from lmcache4j import (Engine, EngineClosedError, EngineStateError, InvalidArgumentError, KvLayout,
                       UnsupportedError)


def layout(kv_format="flash_attn", dtype="bfloat16", heads=2, head_size=16, num_blocks=160):
    return KvLayout(num_layers=3, num_kv_heads=1 if kv_format == "mla" else heads, head_size=head_size,
                    block_size=16, num_blocks=num_blocks, dtype=dtype, kv_format=kv_format)


def shuffled_slots(lay: KvLayout, n: int, seed: int = 1) -> np.ndarray:
    blocks = np.random.default_rng(seed).permutation(lay.num_blocks)
    return (blocks[:, None] * lay.block_size + np.arange(lay.block_size)).reshape(-1)[:n].astype(np.int64)


@pytest.mark.parametrize("kv_format", ["flash_attn", "blocks_first", "mla"])
@pytest.mark.parametrize("dtype,np_dtype", [("bfloat16", np.uint16), ("float16", np.float16), ("float32", np.float32)])
def test_store_then_retrieve_is_byte_exact(open_engine, kv_format, dtype, np_dtype):
    lay = layout(kv_format, dtype)
    caches = random_caches(lay, 3, np_dtype)
    engine = open_engine(lay)
    engine.register_kv_caches(caches)
    tokens = np.random.default_rng(2).integers(0, 32000, 700)
    slots = shuffled_slots(lay, 700)
    expected = rows(caches, lay, slots).copy()
    assert engine.store(tokens, slots) == 700
    zero_rows(caches, lay, slots)
    assert engine.retrieve(tokens, slots) == 700
    assert rows(caches, lay, slots).tobytes() == expected.tobytes()


def test_a_cached_prefix_and_new_tokens_hit_the_whole_chunks(open_engine):
    lay = layout()
    engine = open_engine(lay)
    caches = random_caches(lay)
    engine.register_kv_caches(caches)
    tokens = list(range(5, 2105))
    slots = np.arange(2100)
    assert engine.store(tokens[:2000], slots[:2000]) == 2000
    assert engine.lookup(tokens) == 1792
    assert engine.retrieve(tokens, slots) == 1792
    assert engine.retrieve(tokens, slots, skip_leading=512) == 1280
    assert engine.store(tokens, slots, skip_leading=1792) == 308
    assert engine.lookup(tokens) == 2100
    assert engine.lookup(tokens[:10] + [1] + tokens[11:]) == 0, "a changed first chunk hits nothing"


def test_scopes_separate_tenants_and_adapters_and_pins_release(open_engine):
    lay = layout()
    engine = open_engine(lay)
    engine.register_kv_caches(random_caches(lay))
    tokens, slots = np.arange(512), np.arange(512)
    engine.store(tokens, slots, cache_salt="tenant-é")
    assert engine.lookup(tokens) == 0
    assert engine.lookup(tokens, cache_salt="tenant-e") == 0
    assert engine.lookup(tokens, cache_salt="tenant-é", adapter="lora-1") == 0
    assert engine.lookup(tokens, cache_salt="tenant-é", pin_request_id="r1") == 512
    assert engine.stats().pins == 2
    assert engine.unpin("r1") == 2
    engine.store(tokens, slots, adapter="lora-1")
    assert engine.lookup(tokens, adapter="lora-1") == 512


def test_stats_config_clear_and_context_manager(tmp_path):
    path = tmp_path / "lmcache.yaml"
    path.write_text("chunk_size: 64\nmax_local_cpu_size: 0.02\nsave_decode_cache: true\n")
    lay = layout()
    with Engine(str(path), lay) as engine:
        assert engine.config["chunk_size"] == 64 and engine.config["save_decode_cache"] is True
        engine.register_kv_caches(random_caches(lay))
        engine.store(np.arange(100), np.arange(100))
        s = engine.stats()
        assert (s.chunks, s.stored_tokens, s.store_requests) == (2, 100, 1)
        engine.clear()
        assert engine.stats().chunks == 0
    assert engine.closed
    with Engine(None, lay) as defaults:
        assert defaults.config["chunk_size"] == 256 and defaults.config["max_local_cpu_size"] == 5.0


def test_a_closed_engine_raises_and_closing_twice_is_harmless(open_engine):
    engine = open_engine(layout())
    engine.close()
    engine.close()
    for call in (lambda: engine.lookup([1]), lambda: engine.store([1], [0]), lambda: engine.stats(),
                 lambda: engine.unpin("r"), lambda: engine.config):
        with pytest.raises(EngineClosedError, match="closed"):
            call()
    assert "closed" in repr(engine)


def test_bad_caches_are_refused_with_the_reason(open_engine):
    lay = layout()
    engine = open_engine(lay)
    good = random_caches(lay)
    cases = [
        ([c.astype(np.float32) for c in good], "4-byte elements"),
        (good[:2], "expected 3 layer caches, got 2"),
        ([good[0], good[1], good[2].reshape(lay.num_blocks, 2, 16, 2, 16)], "has shape"),
        ([good[0], good[1], np.asfortranarray(good[2])], "not contiguous"),
        ([good[0], good[1], good[2][:, :, :, :, :]], None),
        ([good[0], good[1], "not an array"], "pass numpy arrays, torch tensors or CUDA arrays"),
        ([c.astype(np.bool_) for c in good], "KV caches hold numbers"),
    ]
    for caches, message in cases:
        if message is None:
            engine.register_kv_caches(caches)  # a full view is fine
            continue
        with pytest.raises(InvalidArgumentError, match=message):
            engine.register_kv_caches(caches)
    read_only = [c.copy() for c in good]
    read_only[1].flags.writeable = False
    with pytest.raises(InvalidArgumentError, match="read-only"):
        engine.register_kv_caches(read_only)


def test_bad_requests_are_refused_and_change_nothing(open_engine):
    lay = layout()
    engine = open_engine(lay)
    with pytest.raises(EngineStateError, match="register_kv_caches"):
        engine.store([1, 2], [0, 1])
    caches = random_caches(lay)
    engine.register_kv_caches(caches)
    before = [c.copy() for c in caches]
    cases = [
        (lambda: engine.lookup(np.ones(4, dtype=np.float32)), "must hold integers"),
        (lambda: engine.lookup(np.ones((2, 2), dtype=np.int32)), "one-dimensional"),
        (lambda: engine.lookup([2**40]), "fit in int32"),
        (lambda: engine.store([1, 2, 3], [0, 1]), "slot_mapping has 2 entries but there are 3 tokens"),
        (lambda: engine.store([1, 2], [0, lay.num_blocks * 16]), "outside the registered caches"),
        (lambda: engine.retrieve([1, 2], [0, 1], skip_leading=1), "not a multiple of chunk_size"),
        (lambda: engine.retrieve([1, 2], [0, 1], skip_leading=-1), "skip_leading must be between 0"),
        (lambda: engine.lookup([1], cache_salt="a\0b"), "NUL"),
        (lambda: engine.lookup([1], pin_request_id=""), None),
    ]
    for call, message in cases:
        if message is None:
            assert call() == 0
            continue
        with pytest.raises(InvalidArgumentError, match=message):
            call()
    with pytest.raises(TypeError, match="cache_salt must be a string"):
        engine.lookup([1], cache_salt=5)
    assert all((a == b).all() for a, b in zip(caches, before))
    assert engine.stats().chunks == 0


def test_bad_layouts_and_configurations_are_refused():
    with pytest.raises(InvalidArgumentError, match="num_layers must be between 1 and"):
        KvLayout(0, 1, 8, 16, 4)
    with pytest.raises(InvalidArgumentError, match="unsupported KV dtype 'int7'"):
        KvLayout(1, 1, 8, 16, 4, "int7")
    with pytest.raises(InvalidArgumentError, match="unsupported KV cache format 'hnd'"):
        KvLayout(1, 1, 8, 16, 4, "bf16", "hnd")
    with pytest.raises(InvalidArgumentError, match="num_kv_heads must be 1 for the mla format"):
        KvLayout(1, 2, 8, 16, 4, "bf16", "mla")
    assert KvLayout(1, 1, 8, 16, 4, "torch.bfloat16").dtype == "bfloat16"
    lay = layout()
    with pytest.raises(InvalidArgumentError, match="chunk_size"):
        Engine({"chunk_size": 0}, lay)
    with pytest.raises(InvalidArgumentError, match="does not exist"):
        Engine("/nonexistent/lmcache.yaml", lay)
    with pytest.raises(InvalidArgumentError, match="JSON-serialisable"):
        Engine({"chunk_size": object()}, lay)
    with pytest.raises(InvalidArgumentError, match="rank must be between 0 and 1, got 5"):
        Engine(SMALL_POOL, lay, world_size=2, rank=5)
    with pytest.raises(TypeError, match="layout must be"):
        Engine(SMALL_POOL, None)
    with pytest.raises(TypeError, match="config must be"):
        Engine(42, lay)


def test_unknown_config_keys_only_warn(open_engine):
    engine = open_engine(layout(), {**SMALL_POOL, "no_such_key": 1, "local_disk": None})
    assert json.loads(json.dumps(engine.config))["chunk_size"] == 256


def test_torch_cpu_tensors(open_engine):
    torch = pytest.importorskip("torch", reason="torch is not installed: torch tensor tests skipped")
    lay = layout()
    caches = [torch.randn(lay.cache_shape, dtype=torch.bfloat16) for _ in range(lay.num_layers)]
    engine = open_engine(lay)
    engine.register_kv_caches({f"layer.{i}": c for i, c in enumerate(caches)})
    tokens, slots = torch.arange(300), torch.arange(300)
    before = [c.clone() for c in caches]
    assert engine.store(tokens, slots) == 300
    for c in caches:
        c.zero_()
    assert engine.retrieve(tokens, slots) == 300
    flat = [c.view(2, -1, lay.num_kv_heads * lay.head_size)[:, :300] for c in caches]
    assert all(torch.equal(a, b.view(2, -1, lay.num_kv_heads * lay.head_size)[:, :300]) for a, b in zip(flat, before))
    with pytest.raises(InvalidArgumentError, match="2-byte"):
        engine.register_kv_caches([c.float() for c in caches])
    with pytest.raises(InvalidArgumentError, match="not contiguous"):
        engine.register_kv_caches([c.transpose(0, 1).contiguous().transpose(0, 1) for c in caches])


def test_device_caches_that_are_not_device_memory_are_refused_naming_the_device(open_engine):
    engine = open_engine(layout())
    # Without a driver it needs one; with one (the CPU-run driver in ./test.sh) these are host memory.
    with pytest.raises(InvalidArgumentError, match="CUDA device 0 need a CUDA driver|registered for CUDA device 0, but"):
        engine.register_kv_cache_addresses([1, 2, 3], device=0)
    with pytest.raises(InvalidArgumentError, match="stream must be a CUDA stream"):
        engine.store([1, 2], [0, 1], stream="fast")


def test_integers_are_checked_against_their_c_types_and_never_wrap(open_engine):
    # Each of these used to cross the C ABI truncated: 2**64 + 256 acted as 256, a 2**32 + 4 layer
    # layout opened a 4-layer engine, a wrapping address range made the next store segfault.
    with pytest.raises(InvalidArgumentError, match="num_layers must be between 1 and 2147483647, got 4294967300"):
        KvLayout(num_layers=2**32 + 4, num_kv_heads=2, head_size=16, block_size=16, num_blocks=64)
    with pytest.raises(InvalidArgumentError, match="world_size must be between 1 and"):
        Engine(None, layout(), world_size=0)
    with pytest.raises(InvalidArgumentError, match="world_size must be between 1 and"):
        Engine(None, layout(), world_size=2**40)
    with pytest.raises(InvalidArgumentError, match="rank must be between 0 and 1, got 2"):
        Engine(None, layout(), world_size=2, rank=2)
    engine = open_engine(layout())
    caches = random_caches(layout(), 3)
    engine.register_kv_caches(caches)
    tokens, slots = np.arange(300), np.arange(300)
    with pytest.raises(InvalidArgumentError, match="skip_leading must be between 0 and 2147483647, got 18446744073709551872"):
        engine.store(tokens, slots, skip_leading=2**64 + 256)
    with pytest.raises(InvalidArgumentError, match="would run past the end of the address space"):
        engine.register_kv_cache_addresses([caches[0].ctypes.data, 2**64 - 4096] + [caches[2].ctypes.data])
    with pytest.raises(InvalidArgumentError, match="layer 1 cache address must be between 1 and"):
        engine.register_kv_cache_addresses([caches[0].ctypes.data, 2**64, caches[2].ctypes.data])
    assert engine.stats().stored_tokens == 0, "a refused call stored something"
    assert engine.store(tokens, slots) == 300  # and the engine still works on its caches
