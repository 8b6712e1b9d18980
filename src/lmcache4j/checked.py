"""Integers checked against the C type they cross the ABI as, so that a Python int never wraps
(2**64 + 256 must not arrive as 256)."""

from __future__ import annotations

from .errors import InvalidArgumentError

INT32_MAX = 2**31 - 1
UINT64_MAX = 2**64 - 1


def integer(value, what: str, low: int, high: int) -> int:
    """``value`` as an int in ``[low, high]``, else an InvalidArgumentError naming it (bools refused)."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidArgumentError(f"{what} must be an integer, got {value!r}")
    if not low <= value <= high:
        raise InvalidArgumentError(f"{what} must be between {low} and {high}, got {value}")
    return value
