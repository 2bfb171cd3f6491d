"""Pure DaemonSet revision history: the template hash, the current revision, pruning.

Every distinct pod template is one revision (Kubernetes' ControllerRevision).
Numbers only grow: going back to an old template gives that revision the next
number. Old revisions no pod uses are pruned beyond `revisionHistoryLimit`.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

HASH_LABEL = "controller-revision-hash"
CHANGE_CAUSE = "kubernetes.io/change-cause"
_SAFE = "bcdfghjklmnpqrstvwxz2456789"  # Kubernetes' rand.SafeEncodeString alphabet


def template_hash(template: Mapping[str, Any]) -> str:
    """FNV-1a (32 bit) of the canonical JSON of the template, encoded as Kubernetes does."""
    value = 0x811C9DC5
    for byte in json.dumps(template, sort_keys=True, separators=(",", ":")).encode():
        value = ((value ^ byte) * 0x01000193) & 0xFFFFFFFF
    return "".join(_SAFE[ord(ch) % len(_SAFE)] for ch in str(value))


@dataclass(frozen=True)
class Revision:
    """One pod template a DaemonSet has had (the store keeps it as a RevisionRecord)."""

    owner_uid: str
    name: str  # <daemonset>-<hash>
    hash: str
    revision: int
    template: dict[str, Any]
    change_cause: str
    created_at: dt.datetime


class Numbered(Protocol):
    """Anything with a revision number and a template hash (a `Revision`, a stored record)."""

    @property
    def revision(self) -> int: ...

    @property
    def hash(self) -> str: ...


N = TypeVar("N", bound=Numbered)


@dataclass(frozen=True)
class History:
    current: Revision
    save: tuple[Revision, ...]  # new or renumbered revisions
    delete: tuple[str, ...]  # hashes of pruned revisions


def plan_history(
    owner_uid: str,
    owner_name: str,
    template: Mapping[str, Any],
    change_cause: str,
    existing: Sequence[Revision],
    hashes_in_use: Collection[str],
    limit: int,
    now: dt.datetime,
) -> History:
    """The revision of `template` (made or renumbered if needed) and the old ones to prune."""
    h = template_hash(template)
    top = max((r.revision for r in existing), default=0)
    current = next((r for r in existing if r.hash == h), None)
    save: list[Revision] = []
    if current is None:
        current = Revision(owner_uid, f"{owner_name}-{h}", h, top + 1, dict(template), change_cause, now)
        save.append(current)
    elif current.revision != top:
        current = dataclasses.replace(current, revision=top + 1, change_cause=change_cause or current.change_cause)
        save.append(current)
    old = sorted((r for r in existing if r.hash != h and r.hash not in hashes_in_use), key=lambda r: r.revision)
    prune = old[: max(0, len(old) - limit)]
    return History(current, tuple(save), tuple(r.hash for r in prune))


def find(revisions: Sequence[N], number: int, current_hash: str) -> N | None:
    """Revision `number`, or with 0 the newest one before the current (as `rollout undo`)."""
    if number:
        return next((r for r in revisions if r.revision == number), None)
    older = [r for r in revisions if r.hash != current_hash]
    return max(older, key=lambda r: r.revision) if older else None
