"""What lists answer, kept by uid and version, as the API server's watch cache keeps objects: a list
reads only each object's (uid, version key) and makes again only what changed since.

Two are kept: served pods (plain pod lists) and Table rows (`table.KeptRow`, for Jobs and pods).
Bounded, the oldest made out first: a list longer than the bound makes the rest each time.
What is kept is shared between answers: callers serialise it and never change it.
"""

from __future__ import annotations

from typing import Any

from miniorch.store.kept import Kept

Served = dict[str, Any]
#: Pods kept: about 2.5 KB each in memory, so 20,000 cost some 50 MB at most.
MAX_PODS = 20_000
#: Table rows kept (cells and metadata, about 1 KB each): 20,000 Jobs and 10,000 pods fit.
MAX_ROWS = 40_000
__all__ = ["MAX_PODS", "MAX_ROWS", "Kept", "Served", "kept_rows", "served_pods"]


def served_pods() -> Kept[Served]:
    return Kept(MAX_PODS)


def kept_rows() -> Kept[Any]:
    return Kept(MAX_ROWS)
