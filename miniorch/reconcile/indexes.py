"""Pure helpers for Indexed Jobs: interval strings and per-index bookkeeping.

Kubernetes writes index sets as ascending intervals: "1,3-5,7"; two neighbours
stay a list ("0,1"), three or more become a range ("0-2").
"""

from __future__ import annotations

from collections.abc import Iterable


def format_intervals(indexes: Iterable[int]) -> str:
    values = sorted(set(indexes))
    parts: list[str] = []
    i = 0
    while i < len(values):
        j = i
        while j + 1 < len(values) and values[j + 1] == values[j] + 1:
            j += 1
        if j - i >= 2:
            parts.append(f"{values[i]}-{values[j]}")
        else:
            parts.extend(str(v) for v in values[i : j + 1])
        i = j + 1
    return ",".join(parts)


def parse_intervals(text: str | None) -> set[int]:
    out: set[int] = set()
    for part in (text or "").split(","):
        part = part.strip()
        if not part:
            continue
        first, _, last = part.partition("-")
        out.update(range(int(first), int(last or first) + 1))
    return out
