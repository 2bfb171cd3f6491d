"""Typed values the store hands out: objects, pods, events, node overrides.

Frozen dataclasses; change them with `dataclasses.replace` and save them back
through the `Store`'s intent-named methods. No field reads the clock: whoever makes a
record passes its times (`created_at=`, an event's timestamps) by name.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import KW_ONLY, dataclass, field
from typing import Any

from miniorch.spec.enums import PodPhase

__all__ = ["EventRecord", "NodeOverrides", "ObjectRecord", "ObjectRef", "PodPhase", "PodRecord", "RevisionRecord"]


@dataclass(frozen=True)
class ObjectRecord:
    """A workload object: its manifest as applied, and the status we computed."""

    uid: str
    kind: str
    namespace: str
    name: str
    manifest: dict[str, Any]
    status: dict[str, Any]
    source: str = "api"
    generation: int = 1
    _: KW_ONLY  # from here on by name: `created_at` has no default
    created_at: dt.datetime
    deleting: bool = False
    owner_kind: str | None = None  # set for objects a controller made (a CronJob's Jobs)
    owner_name: str | None = None
    owner_uid: str | None = None
    resource_version: int = field(default=0, compare=False)  # set by each write (store.versions)


@dataclass(frozen=True)
class ObjectRef:
    """Who an object is and where it came from, without its manifest (cheap to list)."""

    uid: str
    kind: str
    namespace: str
    name: str
    source: str
    deleting: bool


@dataclass(frozen=True)
class PodRecord:
    """One pod (one container) and everything we know about its runs.

    `failures` counts the failed runs that count against backoffLimit: 0 or 1
    for restartPolicy Never, any number for OnFailure (restarts in place).
    `deletion_reason` set means we decided to stop it; it is then terminating.
    `start_attempts` / `last_attempt_at` count the tries to create or start its container that
    the engine refused (CreateContainerError / RunContainerError), for `reconcile.startretry`.
    """

    uid: str
    name: str
    namespace: str
    owner_kind: str
    owner_name: str
    owner_uid: str
    node: str | None
    phase: PodPhase = PodPhase.PENDING
    reason: str = ""
    message: str = ""
    exit_code: int | None = None
    last_exit_code: int | None = None
    restart_count: int = 0
    failures: int = 0
    restart_pending: bool = False
    deletion_reason: str = ""
    created_at: dt.datetime = field(kw_only=True)  # no default: whoever makes the pod says when
    started_at: dt.datetime | None = None
    finished_at: dt.datetime | None = None
    last_failure_at: dt.datetime | None = None
    completion_index: int | None = None
    labels: dict[str, str] = field(default_factory=dict)
    annotations: dict[str, str] = field(default_factory=dict)
    log_tail: str = ""
    container_removed: bool = False
    cpu_request: float = 0.0
    memory_request: int = 0
    # `ctl logs --timestamps/--since/--previous` on stored tails: each line of `log_tail` starts with
    # Docker's timestamp (False: recorded by an older miniorch, plain text); the runs' starts split it.
    log_timestamped: bool = False
    run_started_at: dt.datetime | None = None  # the latest recorded run (Docker's StartedAt)
    previous_run_started_at: dt.datetime | None = None  # the run before it (None: from the beginning)
    start_attempts: int = 0
    last_attempt_at: dt.datetime | None = None
    resource_version: int = field(default=0, compare=False)  # set by each write (store.versions)

    @property
    def terminating(self) -> bool:
        return bool(self.deletion_reason) and not self.phase.terminal

    @property
    def active(self) -> bool:
        return not self.phase.terminal and not self.deletion_reason


@dataclass(frozen=True)
class EventRecord:
    namespace: str
    kind: str
    name: str
    uid: str
    type: str  # Normal | Warning
    reason: str
    message: str
    count: int = 1
    _: KW_ONLY  # from here on by name: the times have no default
    first_timestamp: dt.datetime
    last_timestamp: dt.datetime
    id: int | None = None
    resource_version: int = field(default=0, compare=False)  # set by each write (store.versions)


@dataclass(frozen=True)
class NodeOverrides:
    """What `ctl label` and `ctl cordon` changed on a node, kept across restarts."""

    name: str
    labels: dict[str, str | None] = field(default_factory=dict)  # None = label removed
    unschedulable: bool = False
    resource_version: int = field(default=0, compare=False)  # set by each write (store.versions)


@dataclass(frozen=True)
class RevisionRecord:
    """One pod template a DaemonSet has had (Kubernetes' ControllerRevision).

    `hash` labels its pods (`controller-revision-hash`); `revision` only grows:
    going back to an old template gives that record the next number.
    """

    owner_uid: str
    name: str  # <daemonset>-<hash>
    hash: str
    revision: int
    template: dict[str, Any]
    change_cause: str = ""
    created_at: dt.datetime = field(kw_only=True)  # no default: whoever makes the revision says when
