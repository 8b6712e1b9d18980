"""How the connector keys one vLLM request, or why it serves the request without the cache.

Everything the key depends on beyond the token ids is read here, once per request, so that the
scheduler's lookup and the tokens of its load and save plans agree:

* **Multimodal inputs** (vLLM's ``request.mm_features``: each a hash, ``identifier`` or
  ``mm_hash``, and a placeholder range ``mm_position.offset/length``; older vLLM: ``mm_hashes`` and
  ``mm_positions``). The placeholder tokens of an image are the same for every image, so, as
  LMCache does, the input's hash is folded into them before keying. LMCache writes 16 bits of the
  hash into every placeholder token; here the placeholders carry 124 bits of a digest of the
  identifier, four 31-bit words in turn, each with the sign bit set so that no folded token can
  equal a real (non-negative) token id: the same text with another image differs from the image's
  first token on, and the same image keys the same.
* **Prompt embeddings** (``prompt_embeds`` set): the token ids are placeholders that say nothing
  about the input, so the request is neither looked up, loaded nor saved.
* **kv_transfer_params** (``request.kv_transfer_params``; vLLM fills it from the request's
  ``extra_args``): ``lmcache.skip_save`` (load, but never save), ``lmcache.tag.NAME`` (part of
  the key, as in LMCache's ``CacheEngineKey``: requests with other tags never share a chunk; folded
  into the scope's cache_salt). Keys of other connectors are left alone; other ``lmcache.*``
  keys are named once in a warning.

Bad input (params that are not a dict, a tag whose value is not a scalar, an input without a hash,
with a range outside the prompt or overlapping another input's) is named in one WARNING and the request is served without the
cache: no lookup, no load, no save.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

log = logging.getLogger("lmcache4j.connector")

SKIP_SAVE = "lmcache.skip_save"
TAG_PREFIX = "lmcache.tag."
_MAX_SCOPE_BYTES = 16 * 1024   # the C ABI and the lookup socket take far more; a bound on what a client can send
# Unknown lmcache.* keys are warned about once each; clients choose them, so only the first few are
# remembered (and warned about), lest a client grow this set and flood the log one new key a request.
MAX_WARNED_KEYS = 64
_warned_keys: set[str] = set()


class BadRequest(ValueError):
    """The request carries something the connector cannot key safely."""


@dataclass(frozen=True)
class MmSpan:
    """One multimodal input's placeholder tokens and the words folded into them."""

    offset: int
    length: int
    words: np.ndarray   # int32, 4 words, each negative


@dataclass(frozen=True)
class RequestKeying:
    cache_salt: str | None = None
    adapter: str | None = None
    skip_save: bool = False
    mm: tuple[MmSpan, ...] = ()
    bypass: str | None = None   # why the request is served without the cache; None: it is served with it

    def fold(self, tokens) -> np.ndarray:
        """The token ids as the engines key them (int32): multimodal placeholders replaced."""
        out = np.array(tokens, dtype=np.int32)
        for s in self.mm:
            end = min(s.offset + s.length, out.shape[0])
            if end > s.offset:
                out[s.offset:end] = np.resize(s.words, end - s.offset)
        return out


PROMPT_EMBEDS = "prompt embeddings"


def keying_of(request, prompt_len: int) -> RequestKeying:
    """The keying of a vLLM ``Request`` (or ``NewRequestData``) whose prompt has ``prompt_len`` tokens."""
    rid = getattr(request, "request_id", None) or getattr(request, "req_id", "?")
    if getattr(request, "prompt_embeds", None) is not None:
        log.debug("request %s has prompt embeddings: neither loaded nor saved", rid)
        return RequestKeying(bypass=PROMPT_EMBEDS)
    salt, adapter = _scope(request)
    try:
        params = _transfer_params(request)
        tags = _tags(params)
        skip_save = _skip_save(params)
        mm = _mm_spans(request, prompt_len)
        salt = _tagged_salt(salt, tags)
    except Exception as e:  # BadRequest, or fields of a shape no vLLM gives: never an exception out of the connector
        reason = e if isinstance(e, BadRequest) else f"its fields cannot be read ({e!r})"
        log.warning("request %s is served without the LMCache4j cache: %s", rid, reason)
        return RequestKeying(bypass=f"bad input: {reason}")
    return RequestKeying(salt, adapter, skip_save, mm)


def _scope(request) -> tuple[str | None, str | None]:
    """The request's cache_salt and LoRA adapter name."""
    lora = getattr(request, "lora_request", None)
    adapter = getattr(lora, "lora_name", None) or (str(lora.lora_int_id) if lora is not None else None)
    return getattr(request, "cache_salt", None) or None, adapter or None


def _transfer_params(request) -> Mapping:
    params = getattr(request, "kv_transfer_params", None)
    if params is None:
        extra = getattr(getattr(request, "sampling_params", None), "extra_args", None)
        params = extra.get("kv_transfer_params") if isinstance(extra, Mapping) else None
    if params is None:
        return {}
    if not isinstance(params, Mapping):
        raise BadRequest(f"kv_transfer_params must be a dict, not {type(params).__name__}")
    for k in params:
        if isinstance(k, str) and k.startswith("lmcache.") and k != SKIP_SAVE and not k.startswith(TAG_PREFIX) \
                and k not in _warned_keys and len(_warned_keys) < MAX_WARNED_KEYS:
            _warned_keys.add(k)
            log.warning("kv_transfer_params key %.200r is not one LMCache4j reads (it reads %s and %s*): ignored%s",
                        k, SKIP_SAVE, TAG_PREFIX,
                        "" if len(_warned_keys) < MAX_WARNED_KEYS
                        else f"; no more unknown keys are named ({MAX_WARNED_KEYS} were)")
    return params


def _skip_save(params: Mapping) -> bool:
    value = params.get(SKIP_SAVE, False)
    if isinstance(value, bool) or value in (0, 1):
        return bool(value)
    raise BadRequest(f"{SKIP_SAVE} must be true or false, not {value!r}")


def _tags(params: Mapping) -> dict[str, str]:
    tags = {}
    for k, v in params.items():
        if not isinstance(k, str) or not k.startswith(TAG_PREFIX):
            continue
        name = k[len(TAG_PREFIX):]
        if not name:
            raise BadRequest(f"{k!r} names no tag")
        if not isinstance(v, (str, int, float, bool)):
            raise BadRequest(f"tag {k} must be a string or a number, not {type(v).__name__}")
        tags[name] = str(v)
    return tags


def _tagged_salt(salt: str | None, tags: dict[str, str]) -> str | None:
    """The salt with the tags folded in (unambiguously: one JSON object); the salt alone without tags,
    so that untagged requests keep the keys they always had."""
    if not tags:
        return salt
    folded = json.dumps({"cache_salt": salt or "", "lmcache.tag": tags}, sort_keys=True, ensure_ascii=True)
    if len(folded) > _MAX_SCOPE_BYTES:
        raise BadRequest(f"the tags take {len(folded)} bytes; at most {_MAX_SCOPE_BYTES}")
    return folded


def _mm_spans(request, prompt_len: int) -> tuple[MmSpan, ...]:
    features = getattr(request, "mm_features", None)
    if features:
        pairs = [(_identifier(f), getattr(f, "mm_position", None)) for f in features]
    else:
        hashes, positions = getattr(request, "mm_hashes", None) or [], getattr(request, "mm_positions", None) or []
        if len(hashes) != len(positions):
            raise BadRequest(f"{len(hashes)} multimodal hashes for {len(positions)} placeholder ranges")
        pairs = list(zip(hashes, positions))
    spans = []
    for i, (ident, pos) in enumerate(pairs):
        if not isinstance(ident, (str, bytes)) or not ident:
            raise BadRequest(f"multimodal input {i} has no hash")
        offset, length = getattr(pos, "offset", None), getattr(pos, "length", None)
        if not _is_int(offset) or not _is_int(length):
            raise BadRequest(f"multimodal input {i}'s placeholder range (offset {offset!r}, length {length!r}) "
                             "is not two integers")
        offset, length = int(offset), int(length)   # numpy integers would wrap around in offset + length
        if offset < 0 or length <= 0 or offset + length > prompt_len:
            raise BadRequest(f"multimodal input {i}'s placeholder range (offset {offset}, length {length}) "
                             f"is not inside the {prompt_len}-token prompt")
        spans.append(MmSpan(offset, length, _words(ident)))
    # Overlapping ranges would let the later input's words overwrite the earlier one's, and two requests
    # with different earlier inputs would key alike. vLLM never sends them: refused.
    ordered = sorted(spans, key=lambda s: s.offset)
    for a, b in zip(ordered, ordered[1:]):
        if b.offset < a.offset + a.length:
            raise BadRequest(f"multimodal placeholder ranges [{a.offset}, {a.offset + a.length}) and "
                             f"[{b.offset}, {b.offset + b.length}) overlap")
    return tuple(spans)


def _identifier(feature):
    ident = getattr(feature, "identifier", None)
    return ident if ident else getattr(feature, "mm_hash", None)


def _is_int(v) -> bool:
    return isinstance(v, (int, np.integer)) and not isinstance(v, bool)


def _words(identifier: str | bytes) -> np.ndarray:
    raw = identifier.encode("utf-8") if isinstance(identifier, str) else bytes(identifier)
    digest = hashlib.blake2b(raw, digest_size=16, person=b"lmcache4j-mm").digest()
    words = np.frombuffer(digest, dtype="<u4").astype(np.uint32) | np.uint32(0x80000000)
    return words.view(np.int32)
