"""Reads the paged layout from the registered caches' shapes and strides (never assumes one).

A layer's cache is a tensor whose *logical* dimensions vLLM names by its attention backend:
``(2, num_blocks, block_size, heads, head_size)`` (FlashAttention), ``(num_blocks, 2, block_size,
heads, head_size)`` (FlashInfer and newer vLLM) or ``(num_blocks, block_size, head_size)`` (MLA).
Its *physical* order, outermost first, is what the strides say, and vLLM may permute it (a
"stride order"). The engine copies whole token rows, so it accepts the physical orders in which
a block's tokens are adjacent rows of ``heads * head_size`` elements:

    kv, block, slot, head, dim   -> "flash_attn"
    block, kv, slot, head, dim   -> "blocks_first"
    block, slot, dim             -> "mla"

and refuses the others (such as HND, ``block, kv, head, slot, dim``) with a message naming them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..arrays import cuda_array, is_tensor, tensor_device
from ..errors import InvalidArgumentError, UnsupportedError
from ..layout import KvLayout, dtype_name

_FA = ("kv", "block", "slot", "head", "dim")
_BF = ("block", "kv", "slot", "head", "dim")
_MLA = ("block", "slot", "dim")
_FORMATS = {_FA: "flash_attn", _BF: "blocks_first", _MLA: "mla"}


@dataclass(frozen=True)
class InferredCaches:
    layout: KvLayout
    addresses: list[int]
    device: int


@dataclass(frozen=True)
class _Tensor:
    shape: tuple
    strides: tuple      # in elements
    itemsize: int
    dtype: str          # torch or numpy name
    address: int
    device: int         # -1: host, -2: a CUDA array (the driver says which device)


def _describe(x, i: int) -> _Tensor:
    if is_tensor(x):
        device = tensor_device(x, f"KV cache {i}")
        return _Tensor(tuple(x.shape), tuple(x.stride()), x.element_size(), str(x.dtype), x.data_ptr(), device)
    cai = cuda_array(x)
    if cai is not None:
        dt = np.dtype(cai["typestr"])
        shape = tuple(cai["shape"])
        strides = cai.get("strides") or tuple(int(np.prod(shape[d + 1:], dtype=np.int64)) * dt.itemsize
                                              for d in range(len(shape)))
        if any(s % dt.itemsize for s in strides):
            raise InvalidArgumentError(f"KV cache {i} has strides {strides} that are not whole elements")
        return _Tensor(shape, tuple(s // dt.itemsize for s in strides), dt.itemsize, dt.name, cai["data"][0], -2)
    if isinstance(x, np.ndarray):
        if any(s % x.itemsize for s in x.strides):
            raise InvalidArgumentError(f"KV cache {i} has strides {x.strides} that are not whole elements")
        return _Tensor(x.shape, tuple(s // x.itemsize for s in x.strides), x.itemsize, x.dtype.name,
                       x.ctypes.data, -1)
    raise InvalidArgumentError(f"KV cache {i} is a {type(x).__name__}: pass torch tensors, CUDA arrays or numpy arrays")


def _physical(t: _Tensor, roles: tuple, i: int) -> tuple:
    """The roles of the dimensions longer than one, outermost first, checked to be dense."""
    dims = [d for d in range(len(t.shape)) if t.shape[d] > 1]
    order = sorted(dims, key=lambda d: -t.strides[d])
    expected = 1
    for d in reversed(order):
        if t.strides[d] != expected:
            raise InvalidArgumentError(f"KV cache {i} (shape {t.shape}, strides {t.strides}) is not one dense block:"
                                       f" the engine reads each layer's cache as one")
        expected *= t.shape[d]
    return tuple(roles[d] for d in order)


def _dtype(t: _Tensor, hint: str | None) -> str:
    if hint:
        return dtype_name(hint)
    if t.dtype.startswith("torch.") or t.dtype in ("float16", "float32"):
        return dtype_name(t.dtype)
    raise InvalidArgumentError(f"KV caches of {t.dtype} need their KV dtype named (float16, bfloat16, fp8...)")


def infer_layout(caches: list, *, dtype: str | None = None, logical: str | None = None) -> InferredCaches:
    """The KvLayout, addresses and device of one cache per layer, all of the same shape.

    ``logical`` names the logical order of 5-D caches whose first two sizes are both 2
    (``"flash_attn"``, the default, or ``"blocks_first"``); ``dtype`` is needed for integer
    tensors (a numpy uint16 holding bfloat16, vLLM's uint8 fp8 caches).
    """
    if not caches:
        raise InvalidArgumentError("no KV caches to register")
    tensors = [_describe(c, i) for i, c in enumerate(caches)]
    first = tensors[0]
    for i, t in enumerate(tensors[1:], 1):
        if (t.shape, t.strides, t.itemsize, t.dtype, t.device) != (first.shape, first.strides, first.itemsize,
                                                                   first.dtype, first.device):
            raise InvalidArgumentError(f"KV cache {i} ({t.dtype} {t.shape}, strides {t.strides}) differs from "
                                       f"KV cache 0 ({first.dtype} {first.shape}, strides {first.strides})")
    shape = first.shape
    if len(shape) == 3:
        roles = _MLA
    elif len(shape) == 5 and shape[0] == 2 and (shape[1] != 2 or logical != "blocks_first"):
        roles = _FA
    elif len(shape) == 5 and shape[1] == 2:
        roles = _BF
    else:
        raise UnsupportedError(f"KV caches of shape {shape} are not a paged layout the engine knows "
                               f"([2, blocks, block_size, heads, dim], [blocks, 2, ...] or [blocks, block_size, dim])")
    physical = _physical(first, roles, 0)
    size = dict(zip(roles, shape))
    fmt = next((f for order, f in _FORMATS.items()
                if set(order) == set(roles) and tuple(r for r in order if size[r] > 1) == physical), None)
    if fmt is None:
        raise UnsupportedError(f"KV caches whose dimensions lie in memory as {', '.join(physical)} "
                               f"(shape {shape}, strides {first.strides}) are not supported: a block's tokens must be "
                               f"adjacent rows of heads x head_size (NHD); run vLLM with its NHD layout")
    layout = KvLayout(num_layers=len(tensors), num_kv_heads=size.get("head", 1), head_size=size["dim"],
                      block_size=size["slot"], num_blocks=size["block"], dtype=_dtype(first, dtype), kv_format=fmt)
    if layout.element_size != first.itemsize:
        raise InvalidArgumentError(f"KV caches have {first.itemsize}-byte elements, {layout.dtype} has "
                                   f"{layout.element_size}")
    return InferredCaches(layout, [t.address for t in tensors], first.device)
