"""SQLModel tables behind the Store; nothing outside `miniorch.store` imports them.

JSON columns hold manifests, status and labels as Kubernetes-shaped dicts.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, BigInteger, Column, DateTime, Index, Text
from sqlmodel import Field, SQLModel


def _ts(**kw: Any) -> Any:
    return Field(default=None, sa_column=Column(DateTime(timezone=True), **kw))


def _rv() -> Any:
    """The row's resourceVersion: the store-wide counter's value at its last write (`versions`)."""
    return Field(default=0, sa_column=Column(BigInteger, nullable=False, server_default="0"))


class ObjectRow(SQLModel, table=True):
    __tablename__ = "objects"
    # (uid, resourceVersion) listings read from the index alone, in their order (0008)
    __table_args__ = (
        Index("ix_objects_versions", "kind", "namespace", "name", "uid", "resource_version"),
        Index("ix_objects_owned_versions", "owner_kind", "created_at", "uid", "resource_version", "owner_uid"),
    )
    uid: str = Field(primary_key=True)
    kind: str = Field(index=True)
    namespace: str = Field(index=True)
    name: str = Field(index=True)
    manifest: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON))
    status: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON))
    source: str = "api"
    generation: int = 1
    created_at: dt.datetime | None = _ts()
    deleting: bool = False
    finished: bool = Field(default=False, index=True)
    # the controlling object (a CronJob's Jobs); null for objects users applied
    owner_kind: str | None = None
    owner_name: str | None = None
    owner_uid: str | None = Field(default=None, index=True)
    resource_version: int = _rv()


class PodRow(SQLModel, table=True):
    __tablename__ = "pods"
    # A Job's pods by its name (`ctl get pods -l job-name=X` among 100,000 finished pods; 0007);
    # (uid, resourceVersion, owner) listings read from the index alone (0008)
    __table_args__ = (
        Index("ix_pods_owner_kind_owner_name", "owner_kind", "owner_name"),
        Index("ix_pods_versions", "namespace", "name", "uid", "resource_version", "owner_uid"),
    )
    uid: str = Field(primary_key=True)
    name: str = Field(index=True)
    namespace: str = Field(index=True)
    owner_kind: str
    owner_name: str
    owner_uid: str = Field(index=True)
    node: str | None = None
    phase: str = Field(index=True)
    reason: str = ""
    message: str = ""
    exit_code: int | None = None
    last_exit_code: int | None = None
    restart_count: int = 0
    failures: int = 0
    restart_pending: bool = False
    deletion_reason: str = ""
    created_at: dt.datetime | None = _ts()
    started_at: dt.datetime | None = _ts()
    finished_at: dt.datetime | None = _ts()
    last_failure_at: dt.datetime | None = _ts()
    completion_index: int | None = None
    labels: dict[str, str] = Field(default_factory=dict, sa_column=Column(JSON))
    annotations: dict[str, str] = Field(default_factory=dict, sa_column=Column(JSON))
    log_tail: str = Field(default="", sa_column=Column(Text))
    container_removed: bool = Field(default=False, index=True)
    cpu_request: float = 0.0
    memory_request: int = 0
    log_timestamped: bool = False
    run_started_at: dt.datetime | None = _ts()
    previous_run_started_at: dt.datetime | None = _ts()
    start_attempts: int = 0
    last_attempt_at: dt.datetime | None = _ts()
    resource_version: int = _rv()


class EventRow(SQLModel, table=True):
    __tablename__ = "events"
    id: int | None = Field(default=None, primary_key=True)
    namespace: str = Field(index=True)
    kind: str
    name: str
    uid: str = Field(index=True)
    type: str
    reason: str
    message: str = Field(sa_column=Column(Text))
    count: int = 1
    first_timestamp: dt.datetime | None = _ts()
    last_timestamp: dt.datetime | None = _ts(
        index=True
    )  # the notification collector reads past a time; events expire by it
    resource_version: int = _rv()


class MetaRow(SQLModel, table=True):
    __tablename__ = "meta"
    key: str = Field(primary_key=True)
    value: str


class NodeRow(SQLModel, table=True):
    __tablename__ = "nodes"
    name: str = Field(primary_key=True)
    labels: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON))
    unschedulable: bool = False
    resource_version: int = _rv()


class RevisionRow(SQLModel, table=True):
    __tablename__ = "revisions"
    id: str = Field(primary_key=True)  # <owner uid>/<hash>
    owner_uid: str = Field(index=True)
    name: str
    hash: str
    revision: int
    template: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON))
    change_cause: str = ""
    created_at: dt.datetime | None = _ts()


class LeaseRow(SQLModel, table=True):
    """Who leads the daemons sharing this database, until when; `epoch` grows at each change of leader."""

    __tablename__ = "leases"
    name: str = Field(primary_key=True)
    holder: str
    address: str
    epoch: int
    expires_at: dt.datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))


class ChangeRow(SQLModel, table=True):
    """One write of an object, pod, event or node row, by resourceVersion: what a watch streams (bounded)."""

    __tablename__ = "changes"
    rv: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    kind: str = Field(index=True)
    namespace: str
    name: str
    uid: str
    type: str  # ADDED | MODIFIED | DELETED


class VersionRow(SQLModel, table=True):
    """The store-wide resourceVersion counter (one row): the newest version handed out, and the newest
    one dropped from the change log (a watch from there or older is 410 Gone)."""

    __tablename__ = "resource_versions"
    id: int = Field(primary_key=True)
    current: int = Field(sa_column=Column(BigInteger, nullable=False))
    compacted: int = Field(sa_column=Column(BigInteger, nullable=False))
