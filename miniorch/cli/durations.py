"""Durations as kubectl takes them (Go's `time.ParseDuration`): `10s`, `5m`, `1h30m`, `1.5h`, `500ms`.

Used by `--since`, `--timeout` and friends; a bare number means seconds (as `--timeout 30` did before).
"""

from __future__ import annotations

import re

from miniorch.errors import MiniorchError

_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)")
_BARE = re.compile(r"\d+(?:\.\d*)?|\.\d+")


class DurationError(MiniorchError, ValueError):
    """Raised with a message naming the text and the accepted form."""


def parse_duration(text: str) -> float:
    """Seconds in `text`; raises DurationError for anything Go's parser would refuse (a bare number is seconds)."""
    value = text.strip()
    if _BARE.fullmatch(value):
        return float(value)
    pos, total = 0, 0.0
    while pos < len(value):
        part = _PART.match(value, pos)
        if part is None:
            break
        total += float(part.group(1)) * _UNITS[part.group(2)]
        pos = part.end()
    if not value or pos != len(value):
        raise DurationError(f"invalid duration {text!r}; use a number with a unit, e.g. 10s, 5m, 1h or 1h30m")
    return total
