"""Layer-by-layer store and retrieve over the C ABI (Engine.store_layers / retrieve_layers): byte for
byte what the whole-chunk calls move, in the three paged formats; chunks served only once every layer
is in; misuse refused; nothing leaked (the open_engine fixture checks leases and pins)."""

import numpy as np
import pytest
from conftest import random_caches, rows, zero_rows
from test_engine import layout, shuffled_slots

from lmcache4j import EngineStateError, InvalidArgumentError


@pytest.mark.parametrize("kv_format", ["flash_attn", "blocks_first", "mla"])
def test_layered_store_and_retrieve_match_the_whole_chunk_path(open_engine, kv_format):
    lay = layout(kv_format)
    caches = random_caches(lay, 5)
    engine = open_engine(lay)
    engine.register_kv_caches(caches)
    tokens = np.random.default_rng(3).integers(0, 32000, 600)
    slots = shuffled_slots(lay, 600)
    expected = rows(caches, lay, slots).copy()
    with engine.store_layers(tokens, slots) as store:
        assert store.tokens == 600
        for layer in range(lay.num_layers):
            assert engine.lookup(tokens) == 0, f"served before layer {layer} was in"
            store.copy(layer)
    assert engine.lookup(tokens) == 600
    zero_rows(caches, lay, slots)
    assert engine.retrieve(tokens, slots) == 600
    assert rows(caches, lay, slots).tobytes() == expected.tobytes(), "a layered store, loaded whole"

    zero_rows(caches, lay, slots)
    with engine.retrieve_layers(tokens, slots, skip_leading=256) as load:
        assert load.tokens == 344
        with pytest.raises(InvalidArgumentError, match="has not been copied"):
            load.wait(0)
        for layer in range(lay.num_layers):
            load.copy(layer)
            load.wait(layer)
        assert load.close() == lay.num_layers
    got = rows(caches, lay, slots)
    assert got[..., 256:, :].tobytes() == expected[..., 256:, :].tobytes(), "a layered retrieve"
    assert not got[..., :256, :].any(), "the skipped tokens were written"


def test_a_store_closed_early_stores_nothing_and_misuse_is_refused(open_engine):
    lay = layout()
    engine = open_engine(lay)
    engine.register_kv_caches(random_caches(lay))
    tokens, slots = np.arange(512), np.arange(512)
    store = engine.store_layers(tokens, slots)
    with pytest.raises(InvalidArgumentError, match="layer 0 is next"):
        store.copy(1)
    store.copy(0)
    assert store.close() == 1
    assert store.close() == 1, "closing twice does nothing more"
    with pytest.raises(EngineStateError, match="closed"):
        store.copy(1)
    assert engine.lookup(tokens) == 0
    assert engine.stats().chunks == 0
    with pytest.raises(InvalidArgumentError):
        engine.store_layers(tokens, slots[:100])
    with pytest.raises(InvalidArgumentError):
        engine.retrieve_layers(tokens, slots, skip_leading=100)


def test_reregistering_the_caches_gives_a_layered_retrieve_up(open_engine):
    lay = layout()
    engine = open_engine(lay)
    engine.register_kv_caches(random_caches(lay))
    tokens, slots = np.arange(512), np.arange(512)
    assert engine.store(tokens, slots) == 512
    load = engine.retrieve_layers(tokens, slots)
    load.copy(0)
    engine.register_kv_caches(random_caches(lay, 9))
    with pytest.raises(EngineStateError, match="registered anew"):
        load.copy(1)
    assert load.close() == 1
    assert engine.stats().leases == 0


def test_an_engine_closed_mid_way_leaves_the_handle_harmless(open_engine):
    lay = layout()
    engine = open_engine(lay)
    engine.register_kv_caches(random_caches(lay))
    store = engine.store_layers(np.arange(300), np.arange(300))
    store.copy(0)
    engine.close()
    assert store.close() == 1
