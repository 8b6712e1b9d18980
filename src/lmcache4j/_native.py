"""ctypes declarations of the C ABI (native/include/lmcache4j.h), and where the library is found."""

from __future__ import annotations

import ctypes
import os
import threading
from collections.abc import Mapping
from pathlib import Path

from . import jsig
from .errors import NativeLibraryError, error_for

ABI_VERSION = 5
DEVICE_HOST, DEVICE_AUTO = -1, -2
CLIENT_HANDLE_BIT = 1 << 62   # engines that are clients of `lmcache4j server` (native/src/client.h)
SERVER_KEY = "lmcache4j.server"
LIBRARY_NAME = "liblmcache4j.so"

c_u32, c_i32, c_u64, c_i64, c_char_p, c_void_p, c_size_t = (
    ctypes.c_uint32, ctypes.c_int32, ctypes.c_uint64, ctypes.c_int64, ctypes.c_char_p, ctypes.c_void_p,
    ctypes.c_size_t)


class Layout(ctypes.Structure):
    _fields_ = [("struct_size", c_u32), ("num_layers", c_i32), ("num_kv_heads", c_i32), ("head_size", c_i32),
                ("dtype", c_char_p), ("block_size", c_i32), ("num_blocks", c_i32), ("kv_format", c_char_p)]


class Options(ctypes.Structure):
    _fields_ = [("struct_size", c_u32), ("settings", c_char_p), ("model", c_char_p), ("world_size", c_i32),
                ("rank", c_i32)]


class Scope(ctypes.Structure):
    _fields_ = [("cache_salt", c_char_p), ("adapter", c_char_p)]


STATS_FIELDS = ("chunks", "pages_in_use", "capacity_pages", "used_bytes", "capacity_bytes", "mapped_bytes",
                "leases", "pins", "evictions", "store_skipped_chunks", "forced_unpins", "lookup_requests",
                "lookup_tokens", "lookup_hit_tokens", "store_requests", "stored_tokens", "retrieve_requests",
                "requested_tokens", "retrieved_tokens", "pool_growth_wait_nanos")


class Stats(ctypes.Structure):
    _fields_ = [("struct_size", c_u32), ("fields", c_u32)] + [(name, c_u64) for name in STATS_FIELDS]


_SIGNATURES = {
    "lmcache4j_abi_version": ([], ctypes.c_int),
    "lmcache4j_status_name": ([ctypes.c_int], c_char_p),
    "lmcache4j_last_error": ([], c_char_p),
    "lmcache4j_open": ([c_char_p, ctypes.POINTER(Layout), ctypes.POINTER(Options), ctypes.POINTER(c_u64)],
                       ctypes.c_int),
    "lmcache4j_register_kv_caches": ([c_u64, c_void_p, c_i32, c_i32], ctypes.c_int),
    "lmcache4j_lookup": ([c_u64, ctypes.POINTER(Scope), c_void_p, c_size_t, c_char_p, ctypes.POINTER(c_i64)],
                         ctypes.c_int),
    "lmcache4j_store": ([c_u64, ctypes.POINTER(Scope), c_void_p, c_void_p, c_size_t, c_size_t,
                         ctypes.POINTER(c_i64)], ctypes.c_int),
    "lmcache4j_retrieve": ([c_u64, ctypes.POINTER(Scope), c_void_p, c_void_p, c_size_t, c_size_t,
                            ctypes.POINTER(c_i64)], ctypes.c_int),
    "lmcache4j_store_on_stream": ([c_u64, ctypes.POINTER(Scope), c_void_p, c_void_p, c_size_t, c_size_t, c_u64,
                                   ctypes.POINTER(c_i64)], ctypes.c_int),
    "lmcache4j_retrieve_on_stream": ([c_u64, ctypes.POINTER(Scope), c_void_p, c_void_p, c_size_t, c_size_t, c_u64,
                                      ctypes.POINTER(c_i64)], ctypes.c_int),
    "lmcache4j_wait_transfers": ([c_u64], ctypes.c_int),
    "lmcache4j_unpin": ([c_u64, c_char_p, ctypes.POINTER(c_i64)], ctypes.c_int),
    "lmcache4j_stats": ([c_u64, ctypes.POINTER(Stats)], ctypes.c_int),
    "lmcache4j_config_json": ([c_u64, c_char_p, c_size_t, ctypes.POINTER(c_size_t)], ctypes.c_int),
    "lmcache4j_serve_lookups": ([c_u64, c_char_p], ctypes.c_int),
    "lmcache4j_record_kv_events": ([c_u64, c_i32], ctypes.c_int),
    "lmcache4j_take_kv_events": ([c_u64, c_void_p, c_size_t, ctypes.POINTER(c_size_t)], ctypes.c_int),
    "lmcache4j_metrics_json": ([c_u64, c_char_p, c_size_t, ctypes.POINTER(c_size_t)], ctypes.c_int),
    "lmcache4j_metrics_text": ([c_u64, c_char_p, c_size_t, ctypes.POINTER(c_size_t)], ctypes.c_int),
    "lmcache4j_count_prompt": ([c_u64, c_i64, c_i64], ctypes.c_int),
    # version 4: where a hit lies, and prefetch
    "lmcache4j_lookup_tiers": ([c_u64, ctypes.POINTER(Scope), c_void_p, c_size_t, c_char_p, ctypes.POINTER(c_i64),
                                ctypes.POINTER(c_i64)], ctypes.c_int),
    "lmcache4j_prefetch": ([c_u64, ctypes.POINTER(Scope), c_void_p, c_size_t, c_char_p, ctypes.POINTER(c_u64)],
                           ctypes.c_int),
    "lmcache4j_prefetch_state": ([c_u64, c_u64, ctypes.POINTER(c_i32), ctypes.POINTER(c_i64)], ctypes.c_int),
    "lmcache4j_prefetch_await": ([c_u64, c_u64, c_i64, ctypes.POINTER(c_i32)], ctypes.c_int),
    "lmcache4j_prefetch_cancel": ([c_u64, c_u64, ctypes.POINTER(c_i32)], ctypes.c_int),
    "lmcache4j_prefetch_close": ([c_u64, c_u64], ctypes.c_int),
    "lmcache4j_clear": ([c_u64], ctypes.c_int),
    "lmcache4j_close": ([c_u64], ctypes.c_int),
}

# layer by layer (version 5)
_SIGNATURES.update({
    "lmcache4j_store_layers": ([c_u64, ctypes.POINTER(Scope), c_void_p, c_void_p, c_size_t, c_size_t, c_u64,
                                ctypes.POINTER(c_u64), ctypes.POINTER(c_i64)], ctypes.c_int),
    "lmcache4j_retrieve_layers": ([c_u64, ctypes.POINTER(Scope), c_void_p, c_void_p, c_size_t, c_size_t, c_u64,
                                   ctypes.POINTER(c_u64), ctypes.POINTER(c_i64)], ctypes.c_int),
    "lmcache4j_copy_layer": ([c_u64, c_u64, c_i32], ctypes.c_int),
    "lmcache4j_await_layer": ([c_u64, c_u64, c_i32], ctypes.c_int),
    "lmcache4j_close_layers": ([c_u64, c_u64, ctypes.POINTER(c_i64)], ctypes.c_int),
})

_lock = threading.Lock()
_lib: ctypes.CDLL | None = None
_jvm_checked = False


def candidates() -> list[Path]:
    """Where the library is looked for, in order."""
    found = []
    if os.environ.get("LMCACHE4J_LIB"):
        return [Path(os.environ["LMCACHE4J_LIB"])]
    here = Path(__file__).resolve().parent
    found.append(here / "_lib" / LIBRARY_NAME)                       # an installed wheel
    found.append(here.parent.parent / "native" / "build" / LIBRARY_NAME)  # the source tree
    return found


def library() -> ctypes.CDLL:
    """liblmcache4j.so, loaded once (ctypes releases the GIL during each call)."""
    global _lib
    with _lock:
        if _lib is not None:
            return _lib
        tried = candidates()
        path = next((p for p in tried if p.is_file()), None)
        if path is None:
            raise NativeLibraryError(f"cannot find {LIBRARY_NAME}; tried {', '.join(map(str, tried))}. Build it with "
                                     f"'make -C native' (or ./test.sh), or set LMCACHE4J_LIB to its path.")
        try:
            lib = ctypes.CDLL(str(path))
        except OSError as e:
            raise NativeLibraryError(f"cannot load {path}: {e}") from e
        for name, (argtypes, restype) in _SIGNATURES.items():
            fn = getattr(lib, name)
            fn.argtypes, fn.restype = argtypes, restype
        if lib.lmcache4j_abi_version() < ABI_VERSION:  # versions only add calls
            raise NativeLibraryError(f"{path} implements C ABI version {lib.lmcache4j_abi_version()}, "
                                     f"this package needs version {ABI_VERSION} or later")
        _lib = lib
        return lib


def names_server(config) -> bool:
    """Whether lmcache4j_open connects to ``lmcache4j server`` for this config (the rule of
    native/src/client_select.c): the key ``lmcache4j.server`` of a settings dict (or of its
    extra_config) first, an empty one or None meaning "no server"; else LMCACHE4J_SERVER. A
    configuration file is not read here: its engine is taken for an embedded one."""
    if isinstance(config, Mapping):
        for settings in (config, config.get("extra_config")):
            if isinstance(settings, Mapping) and SERVER_KEY in settings:
                value = settings[SERVER_KEY]
                return value is not None and str(value).strip().lower() not in ("", "null", "~", "none")
    return bool(os.environ.get("LMCACHE4J_SERVER"))


def before_first_engine() -> None:
    """The libjsig check, once per process, before the call that may start the JVM."""
    global _jvm_checked
    if not _jvm_checked:
        jsig.check()
        _jvm_checked = True


def check(lib: ctypes.CDLL, status: int) -> None:
    """Raises the exception for a failed call (read on the calling thread, where the message is)."""
    if status:
        message = lib.lmcache4j_last_error() or b""
        raise error_for(status, message.decode("utf-8", "replace"))
