"""The CUDA driver API through ctypes, over the CPU-run CUDA driver (docs/cuda-emulator.md), and what
a serving engine on a GPU hands the engine: device tensors (``CudaTensor``, the torch tensor
interface and ``__cuda_array_interface__``) and streams (``Stream``, like ``torch.cuda.Stream``).

The library is loaded by the path in ``LMCACHE4J_CUDA_DRIVER``, the path the engine's JVM loads it
by, so both use one driver in this process (as torch and the engine share ``libcuda.so.1`` on a
GPU). Every call is checked: a failure raises ``CudaError`` with the driver's name for it. Nothing
is freed behind the test's back: memory, streams and contexts are freed explicitly (or by ``with``),
so a test can assert that the emulator's live counts are back where they were.

Device memory lives in the device's primary context (the one torch uses), pushed around each call
so the calling thread's current context is left as it was.
"""

from __future__ import annotations

import ctypes
import os
import time
from dataclasses import dataclass, fields, replace

import numpy as np

DRIVER_ENV = "LMCACHE4J_CUDA_DRIVER"
FATBIN_ENV = "LMCACHE4J_CUDA_FATBIN"

CU_STREAM_DEFAULT, CU_STREAM_NON_BLOCKING = 0, 1
CU_POINTER_ATTRIBUTE_CONTEXT = 1

_CUresult = ctypes.c_int
_CUdevice = ctypes.c_int
_handle = ctypes.c_void_p          # CUcontext, CUstream: opaque handles
_CUdeviceptr = ctypes.c_uint64
_size_t, _uint = ctypes.c_size_t, ctypes.c_uint
_P = ctypes.POINTER
CUhostFn = ctypes.CFUNCTYPE(None, ctypes.c_void_p)

_SIGNATURES = {
    "cuInit": [_uint],
    "cuGetErrorName": [_CUresult, _P(ctypes.c_char_p)],
    "cuDeviceGetCount": [_P(ctypes.c_int)],
    "cuDeviceGet": [_P(_CUdevice), ctypes.c_int],
    "cuDevicePrimaryCtxRetain": [_P(_handle), _CUdevice],
    "cuDevicePrimaryCtxRelease_v2": [_CUdevice],
    "cuCtxCreate_v2": [_P(_handle), _uint, _CUdevice],
    "cuCtxDestroy_v2": [_handle],
    "cuCtxPushCurrent_v2": [_handle],
    "cuCtxPopCurrent_v2": [_P(_handle)],
    "cuMemAlloc_v2": [_P(_CUdeviceptr), _size_t],
    "cuMemFree_v2": [_CUdeviceptr],
    "cuMemsetD8_v2": [_CUdeviceptr, ctypes.c_ubyte, _size_t],
    "cuMemcpyHtoD_v2": [_CUdeviceptr, ctypes.c_void_p, _size_t],
    "cuMemcpyDtoH_v2": [ctypes.c_void_p, _CUdeviceptr, _size_t],
    "cuMemcpyHtoDAsync_v2": [_CUdeviceptr, ctypes.c_void_p, _size_t, _handle],
    "cuMemcpyDtoHAsync_v2": [ctypes.c_void_p, _CUdeviceptr, _size_t, _handle],
    "cuPointerGetAttribute": [ctypes.c_void_p, ctypes.c_int, _CUdeviceptr],
    "cuStreamCreate": [_P(_handle), _uint],
    "cuStreamDestroy_v2": [_handle],
    "cuStreamSynchronize": [_handle],
    "cuLaunchHostFunc": [_handle, CUhostFn, ctypes.c_void_p],
}


class CudaError(RuntimeError):
    """A driver call failed: ``code`` is its CUresult, ``name`` the driver's name for it."""

    def __init__(self, call: str, code: int, name: str):
        super().__init__(f"{call} failed: {name} ({code})")
        self.call, self.code, self.name = call, code, name


@dataclass(frozen=True)
class Counts:
    """``struct lmcache4j_cuda_emulator_counts``: live resources, then totals since the library loaded."""

    contexts: int
    primary_retains: int
    device_allocations: int
    device_bytes: int
    streams: int
    events: int
    modules: int
    host_registrations: int
    host_allocations: int
    faults: int
    launches: int
    copies: int
    unsupported_calls: int
    reclaimed_at_context_destroy: int

    def owned(self) -> Counts:
        """The live resources, faults and reclaimed leaks (the other totals grow with any work)."""
        return replace(self, launches=0, copies=0, unsupported_calls=0)


class _CountsStruct(ctypes.Structure):
    _fields_ = [("struct_size", ctypes.c_uint32), ("version", ctypes.c_uint32)] + [
        (f.name, ctypes.c_uint64) for f in fields(Counts)]


def missing() -> str | None:
    """Why the CUDA tests cannot run here (None: they can)."""
    path, fatbin = os.environ.get(DRIVER_ENV), os.environ.get(FATBIN_ENV)
    if not path or not os.path.isabs(path) or not os.path.isfile(path):
        return f"no CPU-run CUDA driver: {DRIVER_ENV}={path} (an absolute path; make -C native cuda-emulator)"
    if not fatbin or not os.path.isfile(fatbin):
        return f"no CUDA kernels: {FATBIN_ENV}={fatbin} (make -C native cuda, needs nvcc)"
    try:
        d = driver()
    except (OSError, CudaError) as e:
        return f"{path} did not load or initialise: {e}"
    if d.emulator is None:
        return f"{path} is not the CPU-run CUDA driver (no lmcache4j_cuda_emulator_counts)"
    return None


class Driver:
    """The driver library loaded by path, with every call checked, and the emulator's instrument API."""

    def __init__(self, path: str):
        self.path = path
        self.lib = lib = ctypes.CDLL(path)  # releases the GIL around each call
        for name, argtypes in _SIGNATURES.items():
            fn = getattr(lib, name)
            fn.argtypes, fn.restype = argtypes, _CUresult
        self.emulator = None
        if hasattr(lib, "lmcache4j_cuda_emulator_counts"):
            lib.lmcache4j_cuda_emulator_counts.argtypes = [_P(_CountsStruct)]
            lib.lmcache4j_cuda_emulator_counts.restype = ctypes.c_int
            lib.lmcache4j_cuda_emulator_set_delay_us.argtypes = [ctypes.c_uint32]
            lib.lmcache4j_cuda_emulator_set_delay_us.restype = None
            lib.lmcache4j_cuda_emulator_delay_us.argtypes = []
            lib.lmcache4j_cuda_emulator_delay_us.restype = ctypes.c_uint32
            lib.lmcache4j_cuda_emulator_last_fault.argtypes = []
            lib.lmcache4j_cuda_emulator_last_fault.restype = ctypes.c_char_p
            self.emulator = lib
        self.call("cuInit", 0)

    # ---------------------------------------------------------------- calls

    def call(self, name: str, *args) -> None:
        rc = getattr(self.lib, name)(*args)
        if rc != 0:
            raise CudaError(name, rc, self.error_name(rc))

    def error_name(self, rc: int) -> str:
        s = ctypes.c_char_p()
        if self.lib.cuGetErrorName(rc, ctypes.byref(s)) != 0 or not s.value:
            return f"CUresult {rc}"
        return s.value.decode()

    def device_count(self) -> int:
        n = ctypes.c_int()
        self.call("cuDeviceGetCount", ctypes.byref(n))
        return n.value

    def primary_retain(self, device: int) -> int:
        dev = _CUdevice()
        self.call("cuDeviceGet", ctypes.byref(dev), device)
        ctx = _handle()
        self.call("cuDevicePrimaryCtxRetain", ctypes.byref(ctx), dev)
        return ctx.value

    def primary_release(self, device: int) -> None:
        self.call("cuDevicePrimaryCtxRelease_v2", device)

    def push(self, ctx: int) -> None:
        self.call("cuCtxPushCurrent_v2", ctx)

    def pop(self) -> int:
        ctx = _handle()
        self.call("cuCtxPopCurrent_v2", ctypes.byref(ctx))
        return ctx.value or 0

    def in_context(self, ctx: int, fn, *args):
        """fn(*args) with ctx pushed on this thread's context stack (popped again, whatever happens)."""
        self.push(ctx)
        try:
            return fn(*args)
        finally:
            self.pop()

    def ctx_create(self, device: int) -> int:
        """A context of its own on ``device`` (not its primary context), not left current."""
        ctx = _handle()
        self.call("cuCtxCreate_v2", ctypes.byref(ctx), 0, device)
        self.pop()
        return ctx.value

    def ctx_destroy(self, ctx: int) -> None:
        self.call("cuCtxDestroy_v2", ctx)

    def mem_alloc(self, nbytes: int) -> int:
        p = _CUdeviceptr()
        self.call("cuMemAlloc_v2", ctypes.byref(p), nbytes)
        return p.value

    def mem_free(self, ptr: int) -> None:
        self.call("cuMemFree_v2", ptr)

    def memset(self, ptr: int, value: int, nbytes: int) -> None:
        self.call("cuMemsetD8_v2", ptr, value, nbytes)

    def htod(self, dst: int, src: np.ndarray, stream: int | None = None) -> None:
        """Copies host bytes to the device: at once, or queued on ``stream`` (0 = the legacy stream).
        From pageable memory an async copy takes the source at the call, so ``src`` may change after."""
        src = np.ascontiguousarray(src)
        if stream is None:
            self.call("cuMemcpyHtoD_v2", dst, src.ctypes.data, src.nbytes)
        else:
            self.call("cuMemcpyHtoDAsync_v2", dst, src.ctypes.data, src.nbytes, stream)

    def dtoh(self, dst: np.ndarray, src: int, stream: int | None = None) -> None:
        """Copies device bytes into ``dst``: at once, or after the work queued on ``stream``; into
        pageable memory the call returns once the bytes have landed."""
        if not dst.flags.c_contiguous or not dst.flags.writeable:
            raise ValueError("dst must be a writeable C-contiguous array")
        if stream is None:
            self.call("cuMemcpyDtoH_v2", dst.ctypes.data, src, dst.nbytes)
        else:
            self.call("cuMemcpyDtoHAsync_v2", dst.ctypes.data, src, dst.nbytes, stream)

    def pointer_context(self, ptr: int) -> int:
        ctx = _handle()
        self.call("cuPointerGetAttribute", ctypes.byref(ctx), CU_POINTER_ATTRIBUTE_CONTEXT, ptr)
        return ctx.value or 0

    def stream_create(self, flags: int = CU_STREAM_DEFAULT) -> int:
        s = _handle()
        self.call("cuStreamCreate", ctypes.byref(s), flags)
        return s.value

    def stream_destroy(self, stream: int) -> None:
        self.call("cuStreamDestroy_v2", stream)

    def stream_synchronize(self, stream: int) -> None:
        self.call("cuStreamSynchronize", stream)

    def sleep_on_stream(self, stream: int, seconds: float) -> None:
        """Queues ``seconds`` of "compute" on ``stream`` (cuLaunchHostFunc: a host function that
        sleeps on the stream's thread), so work queued after it runs that much later."""
        self.call("cuLaunchHostFunc", stream, _SLEEP, max(1, round(seconds * 1000)))

    # ---------------------------------------------------------------- the instrument

    def counts(self) -> Counts:
        s = _CountsStruct(struct_size=ctypes.sizeof(_CountsStruct))
        if self._instrument().lmcache4j_cuda_emulator_counts(ctypes.byref(s)) != 0:
            raise RuntimeError("lmcache4j_cuda_emulator_counts failed")
        return Counts(**{f.name: getattr(s, f.name) for f in fields(Counts)})

    def set_delay_us(self, micros: int) -> None:
        """Each stream thread sleeps this long before each op: a missing wait turns into wrong bytes."""
        self._instrument().lmcache4j_cuda_emulator_set_delay_us(micros)

    def delay_us(self) -> int:
        return self._instrument().lmcache4j_cuda_emulator_delay_us()

    def last_fault(self) -> str:
        return (self._instrument().lmcache4j_cuda_emulator_last_fault() or b"").decode()

    def _instrument(self):
        if self.emulator is None:
            raise RuntimeError(f"{self.path} is not the CPU-run CUDA driver")
        return self.emulator


def _sleep(user_data) -> None:
    time.sleep((user_data or 0) / 1000)


_SLEEP = CUhostFn(_sleep)  # one instance for the life of the process: queued calls may outlive a test
_driver: Driver | None = None


def driver() -> Driver:
    """The driver at $LMCACHE4J_CUDA_DRIVER, loaded and initialised once per process."""
    global _driver
    if _driver is None:
        path = os.environ.get(DRIVER_ENV)
        if not path:
            raise OSError(f"{DRIVER_ENV} is not set")
        _driver = Driver(path)
    return _driver


# -------------------------------------------------------------------- what torch hands over


class DType:
    """A torch dtype as the engine reads it: str() "torch.<name>", is_floating_point, is_complex."""

    _NUMPY = {"bfloat16": np.uint16, "float16": np.float16, "float32": np.float32, "float8_e4m3fn": np.uint8,
              "float8_e5m2": np.uint8, "uint8": np.uint8, "int32": np.int32}

    def __init__(self, name: str):
        if name not in self._NUMPY:
            raise ValueError(f"no dtype {name}")
        self.name = name
        self.numpy = np.dtype(self._NUMPY[name])  # how its bytes are held on the host
        self.itemsize = self.numpy.itemsize
        self.is_floating_point = name.startswith(("float", "bfloat"))
        self.is_complex = False

    def __str__(self) -> str:
        return f"torch.{self.name}"

    __repr__ = __str__

    def __eq__(self, other) -> bool:
        return isinstance(other, DType) and other.name == self.name

    def __hash__(self) -> int:
        return hash(self.name)


class Device:
    """torch.device("cuda", index)."""

    def __init__(self, index: int):
        self.type, self.index = "cuda", index

    def __str__(self) -> str:
        return f"cuda:{self.index}"

    __repr__ = __str__

    def __eq__(self, other) -> bool:
        return isinstance(other, Device) and other.index == self.index

    def __hash__(self) -> int:
        return hash(self.index)


def sleep_on_stream(stream, seconds: float, device: int = 0) -> None:
    """Queues ``seconds`` of "compute" on ``stream`` (a Stream, a CUstream int, 0 for the legacy
    stream of ``device``'s primary context)."""
    ctx = _PrimaryContext(device)
    try:
        ctx.run(ctx.driver.sleep_on_stream, _stream_handle(stream) or 0, seconds)
    finally:
        ctx.release()


class _PrimaryContext:
    """A retain of a device's primary context, released once."""

    def __init__(self, device: int):
        self.driver, self.device = driver(), device
        self.handle = self.driver.primary_retain(device)
        self._retained = True

    def run(self, fn, *args):
        return self.driver.in_context(self.handle, fn, *args)

    def release(self) -> None:
        if self._retained:
            self._retained = False
            self.driver.primary_release(self.device)


class Stream:
    """A stream of a device's primary context, as torch.cuda.Stream: ``cuda_stream`` is its CUstream.
    ``non_blocking`` streams are not implicitly ordered with the legacy default stream."""

    def __init__(self, device: int = 0, non_blocking: bool = False):
        self.device = device
        self._ctx = _PrimaryContext(device)
        try:
            self.cuda_stream = self._ctx.run(self._ctx.driver.stream_create,
                                             CU_STREAM_NON_BLOCKING if non_blocking else CU_STREAM_DEFAULT)
        except BaseException:
            self._ctx.release()
            raise

    def synchronize(self) -> None:
        self._ctx.driver.stream_synchronize(self.cuda_stream)

    def sleep(self, seconds: float) -> None:
        """Queues ``seconds`` of "compute" on this stream."""
        self._ctx.run(self._ctx.driver.sleep_on_stream, self.cuda_stream, seconds)

    def close(self) -> None:
        """Destroys the stream (work queued on it still runs) and releases the context."""
        if self.cuda_stream:
            handle, self.cuda_stream = self.cuda_stream, 0
            try:
                self._ctx.run(self._ctx.driver.stream_destroy, handle)
            finally:
                self._ctx.release()

    def __enter__(self) -> Stream:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Stream(device={self.device}, cuda_stream={self.cuda_stream:#x})"


class OwnContext:
    """A context created with cuCtxCreate (not a primary context), and its streams."""

    def __init__(self, device: int = 0):
        self.driver = driver()
        self.handle = self.driver.ctx_create(device)
        self.streams: list[int] = []

    def stream(self) -> int:
        s = self.driver.in_context(self.handle, self.driver.stream_create, CU_STREAM_DEFAULT)
        self.streams.append(s)
        return s

    def close(self) -> None:
        if self.handle:
            for s in self.streams:
                self.driver.in_context(self.handle, self.driver.stream_destroy, s)
            self.driver.ctx_destroy(self.handle)
            self.handle = 0

    def __enter__(self) -> OwnContext:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _stream_handle(stream) -> int | None:
    """None (synchronous), or the CUstream of a Stream / an int handle (0: the legacy stream)."""
    if stream is None or isinstance(stream, int):
        return stream
    return stream.cuda_stream


class CudaTensor:
    """A dense tensor in device memory with the torch tensor interface the engine reads (shape,
    dtype, device, data_ptr(), stride() in elements, element_size(), is_contiguous()) and
    ``__cuda_array_interface__``. Its bytes are reached only through the driver: upload / download."""

    def __init__(self, shape, dtype: str | DType = "bfloat16", device: int = 0):
        self.shape = tuple(int(d) for d in shape)
        self.dtype = dtype if isinstance(dtype, DType) else DType(dtype)
        self.device = Device(device)
        self.nbytes = int(np.prod(self.shape, dtype=np.int64)) * self.dtype.itemsize
        self._ctx = _PrimaryContext(device)
        self._ptr = 0
        try:
            self._ptr = self._ctx.run(self._ctx.driver.mem_alloc, self.nbytes)
            self._ctx.run(self._ctx.driver.memset, self._ptr, 0, self.nbytes)
        except BaseException:
            if self._ptr:
                self.free()
            else:
                self._ctx.release()
            raise

    # ---------------------------------------------------------------- the torch tensor interface

    def data_ptr(self) -> int:
        if not self._ptr:
            raise ValueError("the tensor was freed")
        return self._ptr

    def stride(self) -> tuple:
        return tuple(int(np.prod(self.shape[i + 1:], dtype=np.int64)) for i in range(len(self.shape)))

    def element_size(self) -> int:
        return self.dtype.itemsize

    def is_contiguous(self) -> bool:
        return True

    @property
    def __cuda_array_interface__(self) -> dict:
        return {"shape": self.shape, "typestr": self.dtype.numpy.str, "data": (self.data_ptr(), False),
                "strides": None, "version": 3}

    # ---------------------------------------------------------------- bytes

    def upload(self, array: np.ndarray, stream=None) -> None:
        """Writes ``array`` (this shape, the dtype's host representation) into the tensor: at once,
        or queued on ``stream`` (a Stream, a CUstream int, 0 for the legacy stream)."""
        a = np.ascontiguousarray(array, dtype=self.dtype.numpy)
        if a.shape != self.shape:
            raise ValueError(f"array of shape {a.shape} for a tensor of shape {self.shape}")
        self._ctx.run(self._ctx.driver.htod, self.data_ptr(), a, _stream_handle(stream))

    def download(self, stream=None) -> np.ndarray:
        """The tensor's bytes as a numpy array: now, or after the work queued on ``stream``."""
        out = np.empty(self.shape, self.dtype.numpy)
        self._ctx.run(self._ctx.driver.dtoh, out, self.data_ptr(), _stream_handle(stream))
        return out

    def free(self) -> None:
        """Frees the memory (cuMemFree synchronises the context first) and releases the context."""
        if self._ptr:
            ptr, self._ptr = self._ptr, 0
            try:
                self._ctx.run(self._ctx.driver.mem_free, ptr)
            finally:
                self._ctx.release()

    def __enter__(self) -> CudaTensor:
        return self

    def __exit__(self, *exc) -> None:
        self.free()

    def __repr__(self) -> str:
        return f"CudaTensor({self.shape}, {self.dtype}, {self.device}, ptr={self._ptr:#x})"


class CudaArray:
    """Only ``__cuda_array_interface__`` (as a CuPy or Numba array shows itself): no device index,
    so the engine asks the driver where the memory is."""

    def __init__(self, tensor: CudaTensor):
        self.tensor = tensor

    @property
    def __cuda_array_interface__(self) -> dict:
        return self.tensor.__cuda_array_interface__
