"""The connector with use_layerwise (LMCache's key): loads copied one layer ahead of the attention
that reads them, saves copied as each layer is computed, byte for byte what the whole-request
connector loads; a save cut short stores nothing. Nothing leaks (the fixture checks leases, pins)."""


import numpy as np
import pytest
from fake_vllm import Instances, Request

from lmcache4j import KvLayout

LAYOUT = KvLayout(num_layers=3, num_kv_heads=2, head_size=16, block_size=16, num_blocks=400, dtype="bfloat16",
                  kv_format="flash_attn")


@pytest.fixture
def layered(tmp_path):
    instances = Instances(LAYOUT, str(tmp_path / "sockets"), "lw")

    def make(use_layerwise=True, **kw):
        return instances(settings={"use_layerwise": use_layerwise}, **kw)

    yield make
    instances.close()


def saves_and_loads_layer_by_layer(v, prompt, num_layers):
    """``prompt`` saved layer by layer (served once every layer was in), then loaded one layer ahead
    of the attention that reads it, byte for byte."""
    assert v.worker.layerwise is not None
    n = len(prompt)
    assert v.run(Request("a", prompt)) == 0
    assert v.worker.engine.lookup(prompt) == n, "saved layer by layer, served once every layer was in"
    second = Request("b", prompt)
    checked = []

    def layer_is_in(plan, layer):
        # Before attention reads layer `layer`, its KV of the loaded prefix must be there.
        got = v.rows(second, 0, n - 1)[layer]
        want = v.expected_rows(second, 0, n - 1)[layer]
        checked.append(np.array_equal(got, want))

    v.after_layer_load = layer_is_in
    assert v.add(second) == n - 1
    assert checked == [True] * num_layers
    assert v.loaded_exactly(second, n)
    assert v.worker.take_failed_blocks() == set()
    v.finish(second)


def test_layers_load_one_ahead_of_attention_and_the_result_is_byte_exact(layered):
    saves_and_loads_layer_by_layer(layered(), list(range(1000, 1600)), LAYOUT.num_layers)


def test_layerwise_and_whole_request_connectors_load_the_same_bytes(layered):
    whole, by_layer = layered(use_layerwise=False), layered()
    prompt = list(range(7, 807))
    for v in (whole, by_layer):
        v.run(Request("a", prompt))
        again = Request("b", prompt + list(range(9000, 9050)))
        assert v.add(again) == 768
        assert v.loaded_exactly(again, 850)
        v.finish(again)
    assert np.array_equal(np.stack(whole.caches), np.stack(by_layer.caches))


def test_a_save_cut_short_stores_nothing_and_a_load_given_up_is_recomputed(layered):
    v = layered()
    prompt = list(range(50, 562))
    original = v.worker.save_kv_layer
    v.worker.save_kv_layer = lambda name, plan: None if name.endswith(".2.attn") else original(name, plan)
    v.run(Request("a", prompt))
    assert v.worker.engine.lookup(prompt) == 0, "a save missing its last layer was served"
    v.worker.save_kv_layer = original
    v.run(Request("b", prompt))
    assert v.worker.engine.lookup(prompt) == 512

    original_wait = v.worker.wait_for_layer_load

    def reregister_mid_load(name):
        original_wait(name)
        if name.endswith(".0.attn"):  # the caches change under the load: it is given up
            v.worker.engine.register_kv_caches(v.caches)

    v.worker.wait_for_layer_load = reregister_mid_load
    third = Request("c", prompt)
    assert v.add(third) == 511
    failed = v.worker.take_failed_blocks()
    assert failed and failed <= set(third.block_ids), "the blocks of the load given up are recomputed"
    v.finish(third)
