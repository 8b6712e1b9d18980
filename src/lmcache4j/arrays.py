"""Token ids, slot mappings and paged KV caches as the C ABI takes them: numpy arrays (or torch
tensors) in memory the engine may read during a call, checked first, so that a wrong dtype, shape
or stride is a Python exception and never a bad read."""

from __future__ import annotations

import numpy as np

from .errors import InvalidArgumentError
from .layout import KV_FORMATS, KvLayout

_INT32 = np.iinfo(np.int32)


def is_torch(x) -> bool:
    return type(x).__module__.split(".")[0] == "torch"


def _as_numpy(x, what: str) -> np.ndarray:
    """A numpy view (torch CPU tensors share their memory) or a fresh array of a sequence."""
    if isinstance(x, np.ndarray):
        return x
    if is_torch(x):
        if x.device.type != "cpu":
            raise InvalidArgumentError(f"{what} is on {x.device}: pass it in CPU memory")
        return x.detach().numpy()
    try:
        return np.asarray(x)
    except (TypeError, ValueError) as e:
        raise InvalidArgumentError(f"{what} is not an array of integers: {e}") from e


def _integers(x, what: str) -> np.ndarray:
    a = _as_numpy(x, what)
    if a.ndim != 1:
        raise InvalidArgumentError(f"{what} must be one-dimensional, it has shape {a.shape}")
    if a.size and a.dtype.kind not in "iu":
        raise InvalidArgumentError(f"{what} must hold integers, not {a.dtype}")
    return a


def tokens(x) -> np.ndarray:
    """Token ids as a C-contiguous int32 array (the same memory when they already are one)."""
    a = _integers(x, "tokens")
    if a.dtype == np.int32 and a.flags.c_contiguous:
        return a
    if a.size and (a.min() < _INT32.min or a.max() > _INT32.max):
        raise InvalidArgumentError("tokens must fit in int32")
    return np.ascontiguousarray(a, dtype=np.int32)


def slot_mapping(x, n: int) -> np.ndarray:
    """A slot mapping of ``n`` entries as a C-contiguous int64 array."""
    a = _integers(x, "slot_mapping")
    if a.shape[0] != n:
        raise InvalidArgumentError(f"slot_mapping has {a.shape[0]} entries but there are {n} tokens")
    if a.dtype == np.int64 and a.flags.c_contiguous:
        return a
    if a.dtype == np.uint64 and a.size and a.max() > np.iinfo(np.int64).max:
        raise InvalidArgumentError("slot_mapping must fit in int64")
    return np.ascontiguousarray(a, dtype=np.int64)


def address(a: np.ndarray) -> int:
    return a.ctypes.data if a.size else 0


def paged_cache(x, layout: KvLayout, index: int) -> tuple[int, int]:
    """The address and device (-1: host) of layer ``index``'s cache, checked against the layout."""
    what = f"KV cache {index}"
    if is_torch(x):
        shape, contiguous, itemsize = tuple(x.shape), x.is_contiguous(), x.element_size()
        kind_ok = x.dtype.is_floating_point or not x.dtype.is_complex and x.dtype != _torch_bool()
        device = -1 if x.device.type == "cpu" else (x.device.index if x.device.type == "cuda" else None)
        if device is None:
            raise InvalidArgumentError(f"{what} is on {x.device}: host memory or a CUDA device only")
        writeable, dtype, ptr = True, x.dtype, x.data_ptr()
    elif isinstance(x, np.ndarray):
        shape, contiguous, itemsize = x.shape, x.flags.c_contiguous, x.itemsize
        kind_ok, writeable, dtype, ptr, device = x.dtype.kind in "fiu", x.flags.writeable, x.dtype, x.ctypes.data, -1
    else:
        raise InvalidArgumentError(f"{what} is a {type(x).__name__}: pass numpy arrays or torch tensors")
    if shape != layout.cache_shape:
        raise InvalidArgumentError(f"{what} has shape {shape}, the layout needs {layout.cache_shape} "
                                   f"({layout.kv_format}: {KV_FORMATS[layout.kv_format]})")
    if not kind_ok:
        raise InvalidArgumentError(f"{what} holds {dtype}: KV caches hold numbers")
    if itemsize != layout.element_size:
        raise InvalidArgumentError(f"{what} has {itemsize}-byte elements ({dtype}), the layout's {layout.dtype} "
                                   f"has {layout.element_size}")
    if not contiguous:
        raise InvalidArgumentError(f"{what} is not contiguous: the engine reads each layer as one dense block")
    if not writeable:
        raise InvalidArgumentError(f"{what} is read-only: retrieve writes into it")
    return ptr, device


def _torch_bool():
    import torch

    return torch.bool
