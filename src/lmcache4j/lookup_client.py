"""A client of an engine's lookup socket (``Engine.serve_lookups``), usually in another process.

The frames are documented in ``org.lmcache4j.bridge.LookupProtocol``: a 24-byte little-endian
header (magic ``L4J1``, op, flags, string and token counts), with flag 1 the request's prompt
length and vLLM's own hit (two int32, for LMCache's prompt metrics), the UTF-8 strings and int32
tokens; the answer is a 16-byte header (status, text length, value) and the text. With flag 2 the
value carries the hit's tokens in the CPU pool in its high 32 bits (``lookup_tiers``).
"""

from __future__ import annotations

import json
import socket
import struct
import time

import numpy as np

from . import arrays
from .checked import INT32_MAX, integer
from .errors import error_for

MAGIC = b"L4J1"
OP_LOOKUP, OP_LOOKUP_AND_PIN, OP_UNPIN, OP_CONFIG = 1, 2, 3, 4
_REQUEST = struct.Struct("<4sBB2xIIII")
_PROMPT_COUNTS = struct.Struct("<ii")
FLAG_PROMPT_COUNTS = 1   # the request's prompt length and vLLM's own hit follow the header
FLAG_POOL_TOKENS = 2     # the answer carries the hit's tokens in the CPU pool too (high 32 bits of the value)
_RESPONSE = struct.Struct("<iIq")


class LookupClient:
    """One connection to one engine's socket; reconnects once when the connection broke."""

    def __init__(self, path: str, timeout_s: float = 3.0):
        self.path = str(path)
        self.timeout_s = timeout_s
        self._sock: socket.socket | None = None

    def lookup(self, tokens, *, cache_salt: str | None = None, adapter: str | None = None,
               pin_request_id: str | None = None, prompt_tokens: int | None = None,
               vllm_hit_tokens: int | None = None) -> int:
        return self._lookup(tokens, cache_salt, adapter, pin_request_id, prompt_tokens, vllm_hit_tokens, 0)

    def lookup_tiers(self, tokens, *, cache_salt: str | None = None, adapter: str | None = None,
                     pin_request_id: str | None = None, prompt_tokens: int | None = None,
                     vllm_hit_tokens: int | None = None) -> tuple[int, int]:
        """``(hit, pool)``: the hit tokens and how many of them the engine's CPU pool holds."""
        value = self._lookup(tokens, cache_salt, adapter, pin_request_id, prompt_tokens, vllm_hit_tokens,
                             FLAG_POOL_TOKENS)
        return value & 0xFFFFFFFF, value >> 32

    def _lookup(self, tokens, cache_salt, adapter, pin_request_id, prompt_tokens, vllm_hit_tokens, flags) -> int:
        t = arrays.tokens(tokens).astype("<i4", copy=False)
        op = OP_LOOKUP_AND_PIN if pin_request_id else OP_LOOKUP
        counts = None
        if prompt_tokens is not None:
            integer(prompt_tokens, "prompt_tokens", 0, INT32_MAX)
            integer(vllm_hit_tokens, "vllm_hit_tokens", 0, INT32_MAX)
            counts = (prompt_tokens, vllm_hit_tokens)
        return self._call(op, cache_salt, adapter, pin_request_id, t, counts, flags)[0]

    def unpin(self, request_id: str) -> int:
        return self._call(OP_UNPIN, None, None, request_id, None)[0]

    def config(self) -> dict:
        return json.loads(self._call(OP_CONFIG, None, None, None, None)[1])

    def wait_until_up(self, timeout_s: float) -> None:
        """Waits until the socket accepts a connection (the worker may still be starting)."""
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                self._connect()
                return
            except OSError:
                if time.monotonic() >= deadline:
                    raise
                time.sleep(0.1)

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None

    def _connect(self) -> socket.socket:
        if self._sock is None:
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.settimeout(self.timeout_s)
            try:
                s.connect(self.path)
            except OSError:
                s.close()
                raise
            self._sock = s
        return self._sock

    def _call(self, op: int, salt, adapter, request_id, tokens: np.ndarray | None,
              counts: tuple[int, int] | None = None, flags: int = 0) -> tuple[int, str]:
        parts = [(v or "").encode("utf-8") for v in (salt, adapter, request_id)]
        body = tokens.tobytes() if tokens is not None else b""
        n = 0 if tokens is None else tokens.shape[0]
        if counts:
            flags, extra = flags | FLAG_PROMPT_COUNTS, _PROMPT_COUNTS.pack(*counts)
        else:
            extra = b""
        frame = (_REQUEST.pack(MAGIC, op, flags, len(parts[0]), len(parts[1]), len(parts[2]), n) + extra
                 + b"".join(parts) + body)
        for attempt in (0, 1):
            try:
                s = self._connect()
                s.sendall(frame)
                status, length, value = _RESPONSE.unpack(self._read(s, _RESPONSE.size))
                text = self._read(s, length).decode("utf-8", "replace")
                break
            except socket.timeout:
                # The worker is slow, not gone: asking again would only double the wait (and pin twice).
                self.close()
                raise
            except OSError:
                self.close()  # a dropped connection (the worker restarted): one fresh try
                if attempt:
                    raise
        if status:
            raise error_for(status, f"{text} (from {self.path})")
        return value, text

    @staticmethod
    def _read(s: socket.socket, n: int) -> bytes:
        out = bytearray()
        while len(out) < n:
            chunk = s.recv(n - len(out))
            if not chunk:
                raise ConnectionError("the lookup socket closed mid-answer")
            out += chunk
        return bytes(out)
