"""The API's request and response shapes, shared by the daemon's routes and `miniorch ctl`.

Stdlib only (dataclasses and TypedDicts), so `ctl` reads them without pydantic or FastAPI on
its start-up path. FastAPI validates the request dataclasses as bodies; routes returning a
TypedDict say `response_model=None` (pydantic on Python 3.11 takes only typing_extensions'
TypedDict, 20 ms of `ctl` start-up). Objects themselves stay Kubernetes-shaped JSON: `Manifest`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, NotRequired, TypedDict

Manifest = dict[str, Any]  # a Kubernetes-shaped object as the API renders it


# -- requests ---------------------------------------------------------------
@dataclass
class ApplyRequest:
    source: str
    text: str
    dry_run: bool = False


@dataclass
class DryRunRequest:
    source: str
    text: str
    # `diff`: check each object as the one who manages it would apply it (a file in the watched
    # folder may be compared with what it made); an apply through the API may not change those.
    as_manager: bool = False


@dataclass
class NodePatch:
    """What `ctl label` and `cordon` change: sent as a merge patch of the Node's labels and spec."""

    labels: dict[str, str | None] = field(default_factory=dict)  # None removes the label
    unschedulable: bool | None = None


@dataclass
class RollbackRequest:
    to_revision: int = 0  # 0: the revision before the current one


# -- responses --------------------------------------------------------------
class ObjectList(TypedDict):
    apiVersion: str  # v1
    kind: str  # List
    items: list[Manifest]
    metadata: dict[str, str]


class VersionInfo(TypedDict):
    version: str
    python: str
    role: NotRequired[str]  # leader | standby, only from a daemon in a group
    name: NotRequired[str]
    leader: NotRequired[str | None]
    leader_address: NotRequired[str | None]


class Health(TypedDict):
    ok: bool
    nodes: dict[str, bool]


class ApplyResult(TypedDict):
    kind: str
    namespace: str
    name: str
    action: str  # created | configured | unchanged | checked


class ApplyResponse(TypedDict):
    results: list[ApplyResult]
    warnings: list[str]


class DryRunResult(ApplyResult):
    live: Manifest | None  # the stored manifest, or None
    merged: Manifest  # what an apply would store, defaults included


class DryRunResponse(TypedDict):
    results: list[DryRunResult]
    warnings: list[str]


class PatchResponse(TypedDict):
    action: str  # patched | unchanged, told by the object's generation before and after
    object: Manifest


class DrainResponse(TypedDict):
    node: str
    remaining: list[str]  # pods still stopping


class RollbackResponse(TypedDict):
    action: str  # skipped | rolled back
    revision: int


class WatchEvent(TypedDict):
    type: str  # ADDED | MODIFIED | DELETED | ERROR
    object: Manifest


class ErrorBody(TypedDict):
    message: str
    errors: NotRequired[list[str]]
