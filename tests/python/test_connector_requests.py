"""What a request carries besides its tokens, with vLLM-shaped requests: multimodal inputs and prompt
embeddings, LMCache's per-request kv_transfer_params, aborted requests, and bad input of each."""

import logging
from types import SimpleNamespace

import numpy as np
import pytest
from fake_vllm import Instances, Request, RequestStatus, image

from lmcache4j import KvLayout
from lmcache4j.connector.keying import keying_of

LAYOUT = KvLayout(num_layers=2, num_kv_heads=2, head_size=8, block_size=16, num_blocks=256, dtype="bfloat16")
PLACEHOLDER = 151655   # the token an image's placeholders carry, the same for every image


@pytest.fixture
def vllm(tmp_path):
    instances = Instances(LAYOUT, str(tmp_path / "sockets"), "rq")
    yield instances
    instances.close()


def with_image(offset=300, length=200, total=1024):
    """A prompt of text with one image's placeholder tokens at [offset, offset + length)."""
    prompt = list(range(1000, 1000 + total))
    prompt[offset:offset + length] = [PLACEHOLDER] * length
    return prompt


def stored(v):
    return v.worker.engine.stats().stored_tokens


# ---------------------------------------------------------------- multimodal inputs and embeddings

def test_another_image_shares_nothing_past_its_first_token_and_the_same_image_hits(vllm):
    v = vllm()
    prompt = with_image()
    assert v.run(Request("a", prompt, mm_features=[image("img-a", 300, 200)])) == 0
    other = Request("b", prompt, mm_features=[image("img-b", 300, 200)])
    assert v.add(other) == 256, "chunk 0 is text only; chunk 1 holds the other image's first token"
    assert v.loaded_exactly(other, 1024)
    v.finish(other)
    same = Request("c", prompt, mm_features=[image("img-a", 300, 200)])
    assert v.add(same) == 1023, "the same image: the whole prompt but its last token"
    assert v.loaded_exactly(same, 1024)
    v.finish(same)
    assert v.run(Request("d", prompt)) == 256, "without a hash the bare placeholders key apart from every image"


def test_lookup_load_and_save_key_the_same_folded_tokens(vllm):
    v = vllm()
    feature = image("img-a", 256, 100)
    v.run(Request("a", with_image(256, 100), mm_features=[feature]))
    saved = v.plans[0].requests[0]
    assert saved.save is not None and (saved.token_ids[256:356] < 0).all(), "placeholders carry the hash"
    assert (saved.token_ids[:256] >= 0).all() and (saved.token_ids[356:] >= 0).all()
    assert np.array_equal(saved.token_ids, keying_of(Request("x", [], mm_features=[feature]), 1024)
                          .fold(with_image(256, 100)))
    second = Request("b", with_image(256, 100), mm_features=[feature])
    assert v.add(second) == 1023
    assert np.array_equal(v.plans[-1].requests[0].token_ids[:1023], saved.token_ids[:1023])
    v.finish(second)
    assert v.run(Request("c", with_image(256, 100), mm_features=[image("img-b", 256, 100)])) == 256


def test_two_images_and_vllms_older_mm_hashes(vllm):
    v = vllm()
    prompt = with_image(100, 50)
    prompt[600:700] = [PLACEHOLDER] * 100
    first = [image("cat", 100, 50), image("dog", 600, 100)]
    v.run(Request("a", prompt, mm_features=first))
    assert v.run(Request("b", prompt, mm_features=[image("cat", 100, 50), image("cow", 600, 100)])) == 512
    old = Request("c", prompt)
    old.mm_hashes = ["cat", "dog"]
    old.mm_positions = [f.mm_position for f in first]
    assert v.run(old) == 1023, "mm_hashes and mm_positions key as mm_features do"


def test_prompt_embeddings_are_neither_loaded_nor_saved_and_are_counted(vllm, caplog):
    v = vllm()
    placeholders = [0] * 600
    with caplog.at_level(logging.DEBUG, logger="lmcache4j.connector"):
        for rid in ("a", "b"):
            assert v.run(Request(rid, placeholders, prompt_embeds=np.zeros((600, 8)))) == 0
    s = v.worker.engine.stats()
    assert (s.stored_tokens, s.lookup_requests) == (0, 0)
    assert v.scheduler.stats()["prompt_embeds_requests"] == 2
    assert sum("prompt embeddings" in r.getMessage() and r.levelno == logging.DEBUG for r in caplog.records) == 2
    assert v.run(Request("c", placeholders)) == 0 and stored(v) == 600, "token requests are cached as before"


# ---------------------------------------------------------------- kv_transfer_params

def test_skip_save_loads_but_never_saves(vllm):
    v = vllm()
    prompt = list(range(600))
    v.run(Request("a", prompt, kv_transfer_params={"lmcache.skip_save": True}))
    assert stored(v) == 0
    v.run(Request("b", prompt, kv_transfer_params={"lmcache.skip_save": False, "other.connector": 1}))
    assert stored(v) == 600
    longer = Request("c", prompt + list(range(5000, 5300)), kv_transfer_params={"lmcache.skip_save": True})
    assert v.add(longer) == 512
    assert v.loaded_exactly(longer, 900)
    v.finish(longer)
    assert stored(v) == 600, "the longer prompt's new chunks were not saved"
    assert v.scheduler.stats()["skip_save_requests"] == 2


def test_tags_are_part_of_the_key(vllm):
    v = vllm()
    prompt = list(range(7000, 7600))
    v.run(Request("a", prompt, kv_transfer_params={"lmcache.tag.user": "alice"}))
    offered = {rid: v.run(Request(rid, prompt, cache_salt=salt, kv_transfer_params=params))
               for rid, salt, params in [("b", None, {"lmcache.tag.user": "bob"}), ("c", None, None),
                                         ("d", None, {"lmcache.tag.user": "alice"}),
                                         ("e", "s1", {"lmcache.tag.user": "alice"}),
                                         ("f", None, {"lmcache.tag.user": "alice", "lmcache.tag.team": 7})]}
    assert offered == {"b": 0, "c": 0, "d": 599, "e": 0, "f": 0}
    assert v.run(Request("g", prompt, cache_salt="s1", kv_transfer_params={"lmcache.tag.user": "alice"})) == 599


# ---------------------------------------------------------------- aborted requests

def test_an_aborted_request_releases_its_pins_and_saves_nothing_more(vllm):
    v = vllm()
    v.run(Request("warm", list(range(600))))
    waiting = Request("w", list(range(600)) + [9])
    assert v.scheduler.get_num_new_matched_tokens(waiting, 0) == (512, False)
    assert v.worker.engine.stats().pins == 2
    waiting.status = RequestStatus.FINISHED_ABORTED
    v.scheduler.request_finished(waiting)   # aborted while it waited for blocks
    assert v.worker.engine.stats().pins == 0

    v.budget = 300
    r = Request("r", list(range(20_000, 21_000)))
    v.add(r)                                # chunked prefill: 300 of 1000 tokens, chunk 0 saved
    assert stored(v) == 600 + 256
    v.finish(r, RequestStatus.FINISHED_ABORTED)
    late = SimpleNamespace(scheduled_new_reqs=[], num_scheduled_tokens={"r": 700}, finished_req_ids=set(),
                           scheduled_cached_reqs=SimpleNamespace(req_ids=["r"], resumed_req_ids=set(),
                                                                 new_block_ids=[([],)]))
    assert v.scheduler.build_step_plan(late).requests == [], "a step listing it after its end plans nothing"
    assert stored(v) == 600 + 256, "nothing partial of the aborted request was saved"
    assert v.scheduler.stats()["aborted_requests"] == 2
    assert v.run(Request("again", list(range(20_000, 21_000)))) == 256, "what was saved before stays"


def test_unknown_lmcache_keys_from_clients_cannot_grow_memory_or_flood_the_log(caplog, monkeypatch):
    from lmcache4j.connector import keying

    monkeypatch.setattr(keying, "_warned_keys", set())
    with caplog.at_level(logging.WARNING, logger="lmcache4j.connector"):
        for i in range(5000):   # every request from a client names a key never seen before
            req = Request(f"r{i}", list(range(10)))
            req.kv_transfer_params = {f"lmcache.unknown_{i}": True}
            assert keying_of(req, 10).bypass is None, "an unknown key is ignored, the request served"
    lines = [r.getMessage() for r in caplog.records]
    assert len(keying._warned_keys) <= keying.MAX_WARNED_KEYS
    assert len(lines) == keying.MAX_WARNED_KEYS, lines[-2:]
    assert "no more" in lines[-1], lines[-1]


# ---------------------------------------------------------------- bad input

BAD = {
    "params not a dict": dict(kv_transfer_params=["lmcache.skip_save"]),
    "skip_save not a bool": dict(kv_transfer_params={"lmcache.skip_save": "yes"}),
    "tag not a scalar": dict(kv_transfer_params={"lmcache.tag.user": {"name": "x"}}),
    "input without a hash": dict(mm_features=[image(None, 10, 20)]),
    "range past the prompt": dict(mm_features=[image("img", 590, 20)]),
    "negative offset": dict(mm_features=[image("img", -1, 20)]),
    "features not a list": dict(mm_features=42),
    "hash not a string": dict(mm_features=[image(12345, 10, 20)]),
    "overlapping ranges": dict(mm_features=[image("img-a", 10, 20), image("img-b", 25, 20)]),
    "the same range twice": dict(mm_features=[image("img-a", 10, 20), image("img-b", 10, 20)]),
    "range whose end overflows int32": dict(mm_features=[image("img", np.int32(2**31 - 1), np.int32(1))]),
    "range whose end overflows int64": dict(mm_features=[image("img", np.int64(2**62), np.int64(2**62))]),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_input_is_warned_once_and_served_without_the_cache(vllm, caplog, case):
    v = vllm()
    prompt = list(range(600))
    v.run(Request("warm", prompt))
    bad = Request("bad", prompt, **BAD[case])
    with caplog.at_level(logging.WARNING, logger="lmcache4j.connector"):
        assert v.scheduler.get_num_new_matched_tokens(bad, 0) == (0, False)
        assert v.add(bad) == 0
        v.finish(bad)
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "request bad is served without the LMCache4j cache" in warnings[0], warnings
    assert v.plans[-2].requests == [], "no load and no save planned"
    assert stored(v) == 600 and v.scheduler.stats()["bad_input_requests"] == 1
    assert v.run(Request("good", prompt)) == 599, "the next request is served as before"
