"""Token ids, slot mappings, paged KV caches and CUDA streams as the C ABI takes them: numpy arrays,
torch tensors (or anything with the torch tensor interface), objects with the CUDA array interface,
checked first, so that a wrong dtype, shape or stride is a Python exception and never a bad read."""

from __future__ import annotations

import numpy as np

from .errors import InvalidArgumentError
from .layout import KV_FORMATS, KvLayout

_INT32 = np.iinfo(np.int32)


_TENSOR_METHODS = ("data_ptr", "stride", "element_size", "is_contiguous")


def is_tensor(x) -> bool:
    """A torch tensor, or an object with the torch tensor interface (shape, dtype, device and the
    methods data_ptr, stride, element_size, is_contiguous)."""
    if type(x).__module__.split(".")[0] == "torch":
        return True
    return all(callable(getattr(x, m, None)) for m in _TENSOR_METHODS) and hasattr(x, "device") and hasattr(x, "shape")


def tensor_device(x, what: str) -> int:
    """-1 for a tensor in host memory, the CUDA device index for one on a GPU (-2, "let the driver
    say", for a bare ``cuda`` device, which means whichever device is current)."""
    dev = x.device
    if dev.type == "cpu":
        return -1
    if dev.type == "cuda":
        return dev.index if dev.index is not None else -2
    raise InvalidArgumentError(f"{what} is on {dev}: host memory or a CUDA device only")


def cuda_array(x) -> dict | None:
    """The CUDA array interface of ``x`` (CuPy, Numba, ...), or None."""
    cai = getattr(x, "__cuda_array_interface__", None)
    return cai if isinstance(cai, dict) else None


def stream_handle(stream) -> int:
    """A CUDA stream as the C ABI takes it: None or 0 (the legacy default stream), a CUstream
    value, a torch.cuda.Stream (``cuda_stream``), or an object with ``__cuda_stream__``."""
    if stream is None:
        return 0
    if hasattr(stream, "__cuda_stream__"):
        stream = stream.__cuda_stream__()[1]
    elif hasattr(stream, "cuda_stream"):
        stream = stream.cuda_stream
    if isinstance(stream, bool) or not isinstance(stream, int) or not 0 <= stream < 1 << 64:
        raise InvalidArgumentError(f"stream must be a CUDA stream (a CUstream value, torch.cuda.Stream or an object "
                                   f"with __cuda_stream__), not {stream!r}")
    return stream


def _as_numpy(x, what: str) -> np.ndarray:
    """A numpy view (torch CPU tensors share their memory) or a fresh array of a sequence."""
    if isinstance(x, np.ndarray):
        return x
    if is_tensor(x):
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
    """The address and device of layer ``index``'s cache, checked against the layout: -1 for host
    memory, a CUDA device index, or -2 (DEVICE_AUTO) for CUDA array interface memory, whose device
    the driver tells."""
    what = f"KV cache {index}"
    cai = None if is_tensor(x) else cuda_array(x)
    if is_tensor(x):
        shape, contiguous, itemsize = tuple(x.shape), x.is_contiguous(), x.element_size()
        kind_ok = x.dtype.is_floating_point or not x.dtype.is_complex and str(x.dtype) != "torch.bool"
        device = tensor_device(x, what)
        writeable, dtype, ptr = True, x.dtype, x.data_ptr()
    elif cai is not None:
        dt = np.dtype(cai["typestr"])
        shape, itemsize, dtype = tuple(cai["shape"]), dt.itemsize, dt
        dense = tuple(int(np.prod(shape[i + 1:], dtype=np.int64)) * itemsize for i in range(len(shape)))
        contiguous = cai.get("strides") in (None, dense)
        kind_ok, (ptr, readonly), device = dt.kind in "fiu", cai["data"], -2
        writeable = not readonly
    elif isinstance(x, np.ndarray):
        shape, contiguous, itemsize = x.shape, x.flags.c_contiguous, x.itemsize
        kind_ok, writeable, dtype, ptr, device = x.dtype.kind in "fiu", x.flags.writeable, x.dtype, x.ctypes.data, -1
    else:
        raise InvalidArgumentError(f"{what} is a {type(x).__name__}: pass numpy arrays, torch tensors or CUDA arrays")
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

