"""The exceptions of lmcache4j: one per status of the C ABI (``enum lmcache4j_status``).

Each is also the built-in exception a Python caller would expect (``ValueError`` for bad
arguments, ``MemoryError``, ``NotImplementedError``...), so ``except ValueError`` works too.
"""

from __future__ import annotations


class LMCache4jError(Exception):
    """An LMCache4j call failed; ``status`` is the C ABI's code (0 when the error is Python's)."""

    status = 0
    status_name = "LMCACHE4J_ERROR"

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class InvalidArgumentError(LMCache4jError, ValueError):
    """A value passed is wrong (shape, dtype, range, layout, configuration); nothing changed."""

    status, status_name = 1, "LMCACHE4J_ERR_INVALID_ARGUMENT"


class EngineStateError(LMCache4jError, RuntimeError):
    """A call out of order, such as a store before the KV caches are registered."""

    status, status_name = 2, "LMCACHE4J_ERR_STATE"


class EngineClosedError(EngineStateError):
    """The engine was closed."""

    status, status_name = 3, "LMCACHE4J_ERR_CLOSED"


class JvmError(LMCache4jError, RuntimeError):
    """No JDK >= 25, no engine jar, or the JVM could not start (the message says what was tried)."""

    status, status_name = 4, "LMCACHE4J_ERR_JVM"


class EngineMemoryError(LMCache4jError, MemoryError):
    """The JVM ran out of memory."""

    status, status_name = 5, "LMCACHE4J_ERR_NO_MEMORY"


class UnsupportedError(LMCache4jError, NotImplementedError):
    """Not supported, such as a paged KV layout whose block rows are not adjacent (HND)."""

    status, status_name = 6, "LMCACHE4J_ERR_UNSUPPORTED"


class InternalError(LMCache4jError, RuntimeError):
    """A bug in LMCache4j: please report the message."""

    status, status_name = 7, "LMCACHE4J_ERR_INTERNAL"


class NativeLibraryError(LMCache4jError, OSError):
    """liblmcache4j.so could not be found or loaded."""


_BY_STATUS = {cls.status: cls for cls in (InvalidArgumentError, EngineStateError, EngineClosedError, JvmError,
                                          EngineMemoryError, UnsupportedError, InternalError)}


def error_for(status: int, message: str) -> LMCache4jError:
    """The exception for a failed call's status and message."""
    cls = _BY_STATUS.get(status, InternalError)
    return cls(message or f"{cls.status_name} (no message)")
