"""Engine: one LMCache4j engine in this process, over the C ABI."""

from __future__ import annotations

import ctypes
import json
import os
import weakref
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields

from . import _native, arrays, kv_events
from .checked import INT32_MAX, UINT64_MAX, integer
from .errors import EngineClosedError, EngineStateError, InvalidArgumentError
from .layout import KvLayout
from .prefetch import Prefetch


@dataclass(frozen=True)
class EngineStats:
    """A snapshot of the engine's state and counters (``lmcache4j_engine_stats``)."""

    chunks: int
    pages_in_use: int
    capacity_pages: int
    used_bytes: int
    capacity_bytes: int
    mapped_bytes: int
    leases: int
    pins: int
    evictions: int
    store_skipped_chunks: int
    forced_unpins: int
    lookup_requests: int
    lookup_tokens: int
    lookup_hit_tokens: int
    store_requests: int
    stored_tokens: int
    retrieve_requests: int
    requested_tokens: int
    retrieved_tokens: int
    pool_growth_wait_nanos: int


def _text(value, what: str) -> bytes | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise TypeError(f"{what} must be a string, not {type(value).__name__}")
    if "\0" in value:
        raise InvalidArgumentError(f"{what} contains a NUL character")
    return value.encode("utf-8")


def _check_prompt_counts(prompt_tokens, vllm_hit_tokens) -> None:
    """What the engine refuses in lmcache4j_count_prompt, refused before anything is looked up."""
    integer(prompt_tokens, "prompt_tokens", 0, INT32_MAX)
    integer(vllm_hit_tokens, "vllm_hit_tokens", 0, INT32_MAX)
    if vllm_hit_tokens > prompt_tokens:
        raise InvalidArgumentError(f"prompt tokens {prompt_tokens} and vLLM hit tokens {vllm_hit_tokens}: "
                                   "the hit must be at most the prompt")


def _close_quietly(lib, handle: int, _keepalive) -> None:
    lib.lmcache4j_close(handle)  # the caches in _keepalive stay alive until here


class Engine:
    """An LMCache4j engine: a CPU pool of KV chunks keyed by token prefix, in this process.

    ``config`` is None (``LMCACHE_CONFIG_FILE``, else the ``LMCACHE_*`` variables, else the
    defaults), a path to an LMCache YAML or JSON file, or a dict of LMCache keys laid over the
    environment's settings. ``model`` and the tensor-parallel ``world_size``/``rank`` enter every key.
    Thread-safe: calls release the GIL, and any number of threads may call at once.
    """

    def __init__(self, config=None, layout: KvLayout | None = None, *, model: str | None = None,
                 world_size: int = 1, rank: int = 0):
        if not isinstance(layout, KvLayout):
            raise TypeError("layout must be a lmcache4j.KvLayout")
        integer(world_size, "world_size", 1, INT32_MAX)
        integer(rank, "rank", 0, world_size - 1)
        path, settings = None, None
        if isinstance(config, Mapping):
            try:
                settings = json.dumps(dict(config)).encode()
            except (TypeError, ValueError) as e:
                raise InvalidArgumentError(f"config is not JSON-serialisable: {e}") from e
        elif isinstance(config, (str, os.PathLike)):
            path = os.fsencode(config)
        elif config is not None:
            raise TypeError(f"config must be None, a path or a dict, not {type(config).__name__}")
        self._lib = lib = _native.library()
        self._layout = layout
        c_layout = _native.Layout(ctypes.sizeof(_native.Layout), layout.num_layers, layout.num_kv_heads,
                                  layout.head_size, layout.dtype.encode(), layout.block_size, layout.num_blocks,
                                  layout.kv_format.encode())
        options = _native.Options(ctypes.sizeof(_native.Options), settings, _text(model, "model"), world_size, rank)
        handle = ctypes.c_uint64()
        if not _native.names_server(config):   # a client of `lmcache4j server` starts no JVM here
            _native.before_first_engine()
        _native.check(lib, lib.lmcache4j_open(path, ctypes.byref(c_layout), ctypes.byref(options),
                                              ctypes.byref(handle)))
        self._handle: int | None = handle.value
        self._caches: list = []
        self._one_event_bytes = 0   # the largest KV event record, once take_kv_events has asked
        self._lookup_servers: list = []   # a client engine's lookup sockets, served from Python
        self._finalizer = weakref.finalize(self, _close_quietly, lib, handle.value, self._caches)

    # ------------------------------------------------------------------ state

    @property
    def layout(self) -> KvLayout:
        return self._layout

    @property
    def closed(self) -> bool:
        return self._handle is None

    @property
    def config(self) -> dict:
        """The effective configuration, by LMCache key."""
        return json.loads(self._text_call(self._lib.lmcache4j_config_json))

    def metrics(self) -> dict:
        """The engine's metrics under LMCache's names (what :mod:`lmcache4j.metrics` mirrors)."""
        return json.loads(self._text_call(self._lib.lmcache4j_metrics_json))

    def metrics_text(self) -> str:
        """The engine's metrics in the Prometheus text format, as the replay's endpoint serves them."""
        return self._text_call(self._lib.lmcache4j_metrics_text)

    def _text_call(self, fn) -> str:
        """A call that writes text into a buffer: asked for its length, then for the text. The text
        may grow in between (other threads' requests add digits to the metrics): then it was cut,
        and is asked for again in a larger buffer."""
        h = self._h()
        length = ctypes.c_size_t()
        _native.check(self._lib, fn(h, None, 0, ctypes.byref(length)))
        while True:
            buf = ctypes.create_string_buffer(length.value + length.value // 8 + 256)
            _native.check(self._lib, fn(h, buf, len(buf), ctypes.byref(length)))
            if length.value < len(buf):  # all of it, and its NUL
                return buf.raw[:length.value].decode()

    def stats(self) -> EngineStats:
        s = _native.Stats(struct_size=ctypes.sizeof(_native.Stats))
        _native.check(self._lib, self._lib.lmcache4j_stats(self._h(), ctypes.byref(s)))
        return EngineStats(**{f.name: getattr(s, f.name) for f in fields(EngineStats)})

    # ------------------------------------------------------------------ caches

    def register_kv_caches(self, caches) -> None:
        """Registers the paged caches: one per layer (a sequence, or a dict in layer order), each of
        the layout's shape and element size, C-contiguous: numpy arrays (host memory), torch tensors
        on the CPU or a CUDA device, or CUDA arrays (``__cuda_array_interface__``). Caches on a GPU
        are copied by the CUDA transfer, ordered with the stream given to each call. They are kept
        alive until the engine closes."""
        layers = list(caches.values()) if isinstance(caches, Mapping) else list(caches)
        placed = [arrays.paged_cache(c, self._layout, i) for i, c in enumerate(layers)]
        devices = {device for _, device in placed}
        if len(devices) > 1:
            raise InvalidArgumentError(f"KV caches are on several devices ({sorted(devices)}): put them on one")
        self.register_kv_cache_addresses([a for a, _ in placed], devices.pop() if devices else -1, keepalive=layers)

    def register_kv_cache_addresses(self, addresses: Sequence[int], device: int = -1, keepalive=None) -> None:
        """Registers caches given as raw addresses (checked by the caller) on ``device``: -1 host
        memory, a CUDA device index, or -2 to let the driver say. ``keepalive`` is held until the
        engine closes or caches are registered again: a registration waits for the calls running on
        the old caches and for their GPU copies, so the old ones are dropped only after it."""
        addresses = list(addresses)
        if isinstance(device, bool) or not isinstance(device, int) or not -2 <= device <= INT32_MAX:
            raise InvalidArgumentError(f"device {device!r} is not a device id (-1 for host memory, -2 to let the driver "
                                       f"say, or a CUDA device index)")
        for i, a in enumerate(addresses):
            integer(a, f"layer {i} cache address", 1, UINT64_MAX)
            if a + self._layout.layer_bytes - 1 > UINT64_MAX:
                raise InvalidArgumentError(f"layer {i} cache at {a:#x} would run past the end of the address space "
                                           f"({self._layout.layer_bytes} bytes)")
        addrs = (ctypes.c_uint64 * len(addresses))(*addresses)
        _native.check(self._lib, self._lib.lmcache4j_register_kv_caches(self._h(), addrs, len(addresses), device))
        self._caches[:] = [keepalive]

    # ------------------------------------------------------------------ requests

    def lookup(self, tokens, *, cache_salt: str | None = None, adapter: str | None = None,
               pin_request_id: str | None = None, prompt_tokens: int | None = None,
               vllm_hit_tokens: int | None = None) -> int:
        """How many leading tokens are cached; with ``pin_request_id`` they stay pinned for that
        request until :meth:`unpin`, its next lookup, or ``pin_timeout_sec``. ``prompt_tokens`` and
        ``vllm_hit_tokens`` (given together) are checked first and counted once the lookup is
        answered (see :meth:`count_prompt`): a refused lookup counts nothing, and bad counts look
        nothing up."""
        return self._lookup(tokens, cache_salt, adapter, pin_request_id, prompt_tokens, vllm_hit_tokens, False)[0]

    def lookup_tiers(self, tokens, *, cache_salt: str | None = None, adapter: str | None = None,
                     pin_request_id: str | None = None, prompt_tokens: int | None = None,
                     vllm_hit_tokens: int | None = None) -> tuple[int, int]:
        """:meth:`lookup`, answering ``(hit, pool)``: the hit tokens, and how many of them the CPU
        pool holds (the rest must be read from disk or Redis first). Only the pool's part is pinned."""
        return self._lookup(tokens, cache_salt, adapter, pin_request_id, prompt_tokens, vllm_hit_tokens, True)

    def _lookup(self, tokens, cache_salt, adapter, pin_request_id, prompt_tokens, vllm_hit_tokens,
                tiers: bool) -> tuple[int, int]:
        t = arrays.tokens(tokens)
        if prompt_tokens is not None:
            _check_prompt_counts(prompt_tokens, vllm_hit_tokens)
        hit, pool = ctypes.c_int64(), ctypes.c_int64()
        args = (self._h(), self._scope(cache_salt, adapter), arrays.address(t), t.shape[0],
                _text(pin_request_id, "pin_request_id"), ctypes.byref(hit))
        if tiers:
            _native.check(self._lib, self._lib.lmcache4j_lookup_tiers(*args, ctypes.byref(pool)))
        else:
            _native.check(self._lib, self._lib.lmcache4j_lookup(*args))
            pool = hit
        if prompt_tokens is not None:
            self.count_prompt(prompt_tokens, vllm_hit_tokens)
        return hit.value, pool.value

    def count_prompt(self, prompt_tokens: int, vllm_hit_tokens: int) -> None:
        """Counts a request's prompt length and the tokens of it vLLM's own prefix cache held
        (LMCache's ``num_prompt_tokens`` and ``num_vllm_hit_tokens``); the hit at most the prompt."""
        _check_prompt_counts(prompt_tokens, vllm_hit_tokens)
        _native.check(self._lib, self._lib.lmcache4j_count_prompt(self._h(), prompt_tokens, vllm_hit_tokens))

    def store(self, tokens, slot_mapping, skip_leading: int = 0, *, cache_salt: str | None = None,
              adapter: str | None = None, stream=None) -> int:
        """Stores the chunks not cached yet, reading their KV at ``slot_mapping`` (``-1``: no slot);
        ``skip_leading`` tokens (a multiple of chunk_size) are known to be cached. Returns the
        tokens stored.

        On GPU caches the KV is read after the work already queued on ``stream`` (the serving
        engine's CUDA stream: ``torch.cuda.current_stream()``, a CUstream value, or None for the
        legacy default stream), and that stream waits for the reads; the call does not wait for
        the GPU. The chunks are served once their copies have landed (:meth:`wait_transfers`)."""
        return self._transfer(self._lib.lmcache4j_store_on_stream, tokens, slot_mapping, skip_leading, cache_salt,
                              adapter, stream)

    def retrieve(self, tokens, slot_mapping, skip_leading: int = 0, *, cache_salt: str | None = None,
                 adapter: str | None = None, stream=None) -> int:
        """Loads the longest cached prefix into the caches at ``slot_mapping``, except its first
        ``skip_leading`` tokens; returns the tokens loaded beyond ``skip_leading``.

        On GPU caches the KV is written after the work already queued on ``stream``, and that
        stream cannot run past the writes until they have landed; the call does not wait for the
        GPU."""
        return self._transfer(self._lib.lmcache4j_retrieve_on_stream, tokens, slot_mapping, skip_leading, cache_salt,
                              adapter, stream)

    def wait_transfers(self) -> None:
        """Returns once every GPU copy queued so far has landed (stored chunks are then served, and
        the pool pages retrieves read are released). Host copies end in their call."""
        _native.check(self._lib, self._lib.lmcache4j_wait_transfers(self._h()))

    def unpin(self, request_id: str) -> int:
        """Releases a request's pins; returns how many chunks were pinned."""
        n = ctypes.c_int64()
        _native.check(self._lib, self._lib.lmcache4j_unpin(self._h(), _text(request_id, "request_id"),
                                                           ctypes.byref(n)))
        return n.value

    def prefetch(self, tokens, *, cache_salt: str | None = None, adapter: str | None = None,
                 pin_request_id: str | None = None) -> Prefetch:
        """Starts bringing the longest cached prefix of ``tokens`` from the disk and remote tiers
        into the CPU pool, and returns at once (a prompt the pool holds, or an engine without a
        lower tier, has finished on return). With ``pin_request_id`` the prefix is pinned for that
        request once it is in the pool, replacing its earlier pins, as :meth:`lookup` pins; a
        cancelled prefetch pins nothing. Close the returned :class:`~lmcache4j.prefetch.Prefetch`."""
        t = arrays.tokens(tokens)
        handle = ctypes.c_uint64()
        _native.check(self._lib, self._lib.lmcache4j_prefetch(self._h(), self._scope(cache_salt, adapter),
                                                              arrays.address(t), t.shape[0],
                                                              _text(pin_request_id, "pin_request_id"),
                                                              ctypes.byref(handle)))
        return Prefetch(self, handle.value, t.shape[0])

    def record_kv_events(self, on: bool = True) -> None:
        """Starts (or stops) recording KV events: what the CPU tier gains and loses, for a KV-aware
        router. Off when the engine opens; stopping drops the events not taken yet."""
        _native.check(self._lib, self._lib.lmcache4j_record_kv_events(self._h(), 1 if on else 0))

    def take_kv_events(self) -> list:
        """The KV events recorded since the last take, in order (``lmcache4j.kv_events``: BlockStored,
        BlockRemoved, AllBlocksCleared, and EventsLost where the bounded queue dropped some)."""
        lib, h = self._lib, self._h()
        if self._one_event_bytes == 0:  # a record of one whole chunk always fits
            self._one_event_bytes = kv_events.HEADER.size + 4 * int(self.config["chunk_size"])
        buf = ctypes.create_string_buffer(max(self._one_event_bytes, 1 << 16))  # per call: threads may take at once
        out, length = [], ctypes.c_size_t()
        while True:
            _native.check(lib, lib.lmcache4j_take_kv_events(h, buf, len(buf), ctypes.byref(length)))
            if length.value == 0:
                return out
            out += kv_events.decode(ctypes.string_at(buf, length.value))

    def clear(self) -> None:
        """Drops every chunk and pin."""
        _native.check(self._lib, self._lib.lmcache4j_clear(self._h()))

    def serve_lookups(self, socket_path: str | os.PathLike) -> None:
        """Answers lookups from other processes on a Unix socket (see ``lmcache4j.lookup_client``).
        Its directory must be private to this user (0700); the socket closes with the engine. A
        client of ``lmcache4j server`` serves them from this process (``lmcache4j.lookup_server``)."""
        if self.via_server:
            from .lookup_server import LookupServer
            self._lookup_servers.append(LookupServer(self, socket_path))
            return
        _native.check(self._lib, self._lib.lmcache4j_serve_lookups(self._h(), os.fsencode(socket_path)))

    @property
    def via_server(self) -> bool:
        """Whether this engine is a client of ``lmcache4j server`` (no JVM in this process)."""
        return bool(self._h() & _native.CLIENT_HANDLE_BIT)

    # ------------------------------------------------------------------ layerwise (use_layerwise)

    def store_layers(self, tokens, slot_mapping, skip_leading: int = 0, *, cache_salt: str | None = None,
                     adapter: str | None = None, stream=None) -> LayeredCopy:
        """Plans a store as :meth:`store` does and returns it for its layers to be saved one at a
        time (:meth:`LayeredCopy.copy`) as the forward pass computes them; its chunks are served
        once every layer has landed. Close it (or use ``with``): one closed early stores nothing."""
        return self._layers(self._lib.lmcache4j_store_layers, tokens, slot_mapping, skip_leading, cache_salt,
                            adapter, stream)

    def retrieve_layers(self, tokens, slot_mapping, skip_leading: int = 0, *, cache_salt: str | None = None,
                        adapter: str | None = None, stream=None) -> LayeredCopy:
        """Brings the cached prefix into the pool as :meth:`retrieve` does and returns it for its
        layers to be loaded one at a time; ``tokens`` of the result is what will be loaded."""
        return self._layers(self._lib.lmcache4j_retrieve_layers, tokens, slot_mapping, skip_leading, cache_salt,
                            adapter, stream)

    def _layers(self, fn, tokens, slot_mapping, skip_leading, cache_salt, adapter, stream) -> LayeredCopy:
        t = arrays.tokens(tokens)
        s = arrays.slot_mapping(slot_mapping, t.shape[0])
        integer(skip_leading, "skip_leading", 0, INT32_MAX)
        handle = arrays.stream_handle(stream)
        op, n = ctypes.c_uint64(), ctypes.c_int64()
        _native.check(self._lib, fn(self._h(), self._scope(cache_salt, adapter), arrays.address(t), arrays.address(s),
                                    t.shape[0], skip_leading, handle, ctypes.byref(op), ctypes.byref(n)))
        return LayeredCopy(self, op.value, n.value)

    # ------------------------------------------------------------------ closing

    def close(self) -> None:
        """Closes the engine and frees its pool. Calls made after, from any thread, raise
        :class:`EngineClosedError`; closing twice does nothing."""
        if self._handle is not None:
            for server in self._lookup_servers:
                server.close()
            self._handle = None
            self._finalizer()

    def __enter__(self) -> Engine:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self._handle is None else f"handle {self._handle}"
        return f"Engine({self._layout}, {state})"

    # ------------------------------------------------------------------ helpers

    def _h(self) -> int:
        h = self._handle
        if h is None:
            raise EngineClosedError("the engine is closed")
        return h

    @staticmethod
    def _scope(cache_salt, adapter):
        salt, name = _text(cache_salt, "cache_salt"), _text(adapter, "adapter")
        return None if salt is None and name is None else ctypes.byref(_native.Scope(salt, name))

    def _transfer(self, fn, tokens, slot_mapping, skip_leading, cache_salt, adapter, stream) -> int:
        t = arrays.tokens(tokens)
        s = arrays.slot_mapping(slot_mapping, t.shape[0])
        integer(skip_leading, "skip_leading", 0, INT32_MAX)
        handle = arrays.stream_handle(stream)
        n = ctypes.c_int64()
        _native.check(self._lib, fn(self._h(), self._scope(cache_salt, adapter), arrays.address(t),
                                    arrays.address(s), t.shape[0], skip_leading, handle, ctypes.byref(n)))
        return n.value


class LayeredCopy:
    """A store or retrieve copied one layer at a time (:meth:`Engine.store_layers`,
    :meth:`Engine.retrieve_layers`): ``copy(0)``, ``copy(1)``… in order, then :meth:`close`.
    ``tokens`` is what it stores or loads once every layer is in."""

    def __init__(self, engine: Engine, handle: int, tokens: int):
        self._engine = engine
        self._handle: int | None = handle
        self.tokens = tokens
        self.layers_copied = 0

    def copy(self, layer: int) -> None:
        """Saves (a store) or loads (a retrieve) layer ``layer``, the next one."""
        integer(layer, "layer", 0, INT32_MAX)
        e = self._engine
        _native.check(e._lib, e._lib.lmcache4j_copy_layer(e._h(), self._live(), layer))
        self.layers_copied += 1

    def wait(self, layer: int) -> None:
        """Makes the stream wait for layer ``layer``'s copies (GPU caches: :meth:`copy` queues them
        after the stream's work without that wait, so a retrieve copies layer i+1, then waits for
        layer i before its attention). Host copies end in :meth:`copy`. :meth:`close` waits for all."""
        integer(layer, "layer", 0, INT32_MAX)
        e = self._engine
        _native.check(e._lib, e._lib.lmcache4j_await_layer(e._h(), self._live(), layer))

    def close(self) -> int:
        """Ends it (given up if layers are missing: a store then stores nothing); returns the layers
        copied. Closing twice, or after the engine closed, does nothing more."""
        if self._handle is None or self._engine.closed:
            self._handle = None
            return self.layers_copied
        handle, self._handle = self._handle, None
        copied = ctypes.c_int64()
        e = self._engine
        _native.check(e._lib, e._lib.lmcache4j_close_layers(e._h(), handle, ctypes.byref(copied)))
        return copied.value

    def _live(self) -> int:
        if self._handle is None:
            raise EngineStateError("this layer-by-layer operation is closed")
        return self._handle

    def __enter__(self) -> LayeredCopy:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
