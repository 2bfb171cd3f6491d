"""Giving the memory of a big answer back to the system: glibc keeps the freed heap pages of a
10,000-object list (tens of MB) in the process until it is told to trim them.

Run after the answer is sent (a background task on a worker thread: the call releases the GIL).
"""

from __future__ import annotations

import ctypes
import ctypes.util
from collections.abc import Callable

#: Lists of at least this many items are followed by a trim (a few ms; smaller lists leave little).
BIG_LIST = 2000


def _malloc_trim() -> Callable[[int], int] | None:
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name) if name else None
        trim: Callable[[int], int] | None = getattr(libc, "malloc_trim", None)
    except OSError:  # not glibc (musl, macOS): nothing to trim
        return None
    return trim


_TRIM = _malloc_trim()


def trim() -> None:
    """Return the free heap pages to the system (no-op without glibc)."""
    if _TRIM is not None:
        _TRIM(0)
