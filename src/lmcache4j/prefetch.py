"""Prefetch: a prompt's prefix brought from the disk and remote tiers into the CPU pool in the
background (``Engine.prefetch``; the C ABI's ``lmcache4j_prefetch*`` calls, version 4)."""

from __future__ import annotations

import ctypes
import enum
import math
import weakref

from . import _native
from .errors import EngineClosedError, InvalidArgumentError

_WAIT_SLICE_MS = 60_000   # a wait without a limit asks again this often (each call holds a JNI thread)
_INT64_MAX = 2**63 - 1     # lmcache4j_prefetch_await takes int64 milliseconds


class PrefetchState(enum.IntEnum):
    """Where a prefetch is (``LMCACHE4J_PREFETCH_*``); the last three are final."""

    QUEUED = 0      # waiting for one of prefetch_max_concurrency workers; holds no page
    RUNNING = 1     # reading records into the pool
    DONE = 2        # finished: ready_tokens were in the pool when it did
    CANCELLED = 3   # stopped by cancel(), close() or the engine's close; it pinned nothing
    FAILED = 4      # ended by an unexpected error (logged by the engine)

    @property
    def final(self) -> bool:
        return self >= PrefetchState.DONE


def _close_quietly(lib, engine_handle: int, handle: int) -> None:
    lib.lmcache4j_prefetch_close(engine_handle, handle)   # a closed engine answers CLOSED: nothing to do


class Prefetch:
    """A prefetch started by :meth:`Engine.prefetch`. Close it (or use it as a context manager):
    closing one that runs cancels it. Thread-safe; :meth:`cancel` and :meth:`close` never block.

    After the engine closed, :meth:`close` does nothing and the other calls raise
    :class:`EngineClosedError`."""

    def __init__(self, engine, handle: int, tokens: int):
        self._engine = engine
        self._lib = engine._lib
        self._handle: int | None = handle
        self._tokens = tokens
        self._finalizer = weakref.finalize(self, _close_quietly, self._lib, engine._h(), handle)

    @property
    def tokens(self) -> int:
        """The prompt's length: ``ready_tokens == tokens`` means the whole prompt is in the pool."""
        return self._tokens

    def state(self) -> PrefetchState:
        return self._state()[0]

    @property
    def ready_tokens(self) -> int:
        """Leading tokens of the prompt in the pool at the prefetch's last step: those it found,
        then, once it has finished, those it brought in too."""
        return self._state()[1]

    @property
    def done(self) -> bool:
        return self.state().final

    def wait(self, timeout: float | None = None) -> bool:
        """Waits until the prefetch has finished, or ``timeout`` seconds (None: no limit); returns
        whether it has finished. The GIL is released while waiting."""
        if timeout is not None:
            if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not timeout >= 0 \
                    or math.isinf(timeout):
                raise InvalidArgumentError(f"timeout {timeout!r} must be a finite number of seconds >= 0, or None")
            return self._await(min(int(math.ceil(timeout * 1000)), _INT64_MAX))   # longer: as long as it can
        while not self._await(_WAIT_SLICE_MS):
            pass
        return True

    def cancel(self) -> bool:
        """Stops the prefetch (reads already sent finish first; what verified stays cached, unpinned);
        returns whether this call stopped it (False: it had finished)."""
        out = ctypes.c_int32()
        self._check(self._lib.lmcache4j_prefetch_cancel(self._engine._h(), self._h(), ctypes.byref(out)))
        return bool(out.value)

    def close(self) -> None:
        """Cancels the prefetch if it runs and frees its handle; closing twice does nothing."""
        if self._handle is not None:
            self._handle = None
            self._finalizer()

    def __enter__(self) -> Prefetch:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        if self._handle is None or self._engine.closed:
            return f"Prefetch(closed, {self._tokens} tokens)"
        state, ready = self._state()
        return f"Prefetch({state.name}, {ready}/{self._tokens} tokens in the pool)"

    def _state(self) -> tuple[PrefetchState, int]:
        state, ready = ctypes.c_int32(), ctypes.c_int64()
        self._check(self._lib.lmcache4j_prefetch_state(self._engine._h(), self._h(), ctypes.byref(state),
                                                       ctypes.byref(ready)))
        return PrefetchState(state.value), ready.value

    def _await(self, timeout_ms: int) -> bool:
        out = ctypes.c_int32()
        self._check(self._lib.lmcache4j_prefetch_await(self._engine._h(), self._h(), timeout_ms, ctypes.byref(out)))
        return bool(out.value)

    def _h(self) -> int:
        h = self._handle
        if h is None:
            raise EngineClosedError("the prefetch is closed")
        return h

    def _check(self, status: int) -> None:
        _native.check(self._lib, status)
