"""The schema of miniorch 0.1.0, frozen: revision 0001 creates it, and older databases are brought to it.

Plain SQLAlchemy tables, independent of `miniorch.store.tables` (which moves on with later
revisions). Defaults on NOT NULL columns let a database of a development version of
0.1.0 gain the columns it lacks.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlmodel.sql.sqltypes import AutoString

METADATA = sa.MetaData()
_TS = sa.DateTime(timezone=True)


def _str(name: str, default: str | None = None, **kw: object) -> sa.Column[str]:
    return sa.Column(name, AutoString(), default=default, nullable=kw.pop("nullable", False), **kw)  # type: ignore[arg-type]


def _int(name: str, default: int | None = None, nullable: bool = False) -> sa.Column[int]:
    return sa.Column(name, sa.Integer(), default=default, nullable=nullable)


def _bool(name: str, index: bool = False) -> sa.Column[bool]:
    return sa.Column(name, sa.Boolean(), default=False, nullable=False, index=index)


sa.Table(
    "objects",
    METADATA,
    _str("uid", primary_key=True),
    _str("kind", index=True),
    _str("namespace", index=True),
    _str("name", index=True),
    sa.Column("manifest", sa.JSON()),
    sa.Column("status", sa.JSON()),
    _str("source", "api"),
    _int("generation", 1),
    sa.Column("created_at", _TS),
    _bool("deleting"),
    _bool("finished", index=True),
    _str("owner_kind", nullable=True),
    _str("owner_name", nullable=True),
    _str("owner_uid", nullable=True, index=True),
)
sa.Table(
    "pods",
    METADATA,
    _str("uid", primary_key=True),
    _str("name", index=True),
    _str("namespace", index=True),
    _str("owner_kind"),
    _str("owner_name"),
    _str("owner_uid", index=True),
    _str("node", nullable=True),
    _str("phase", index=True),
    _str("reason", ""),
    _str("message", ""),
    _int("exit_code", nullable=True),
    _int("last_exit_code", nullable=True),
    _int("restart_count", 0),
    _int("failures", 0),
    _bool("restart_pending"),
    _str("deletion_reason", ""),
    sa.Column("created_at", _TS),
    sa.Column("started_at", _TS),
    sa.Column("finished_at", _TS),
    sa.Column("last_failure_at", _TS),
    _int("completion_index", nullable=True),
    sa.Column("labels", sa.JSON()),
    sa.Column("annotations", sa.JSON()),
    sa.Column("log_tail", sa.Text()),
    _bool("container_removed", index=True),
    sa.Column("cpu_request", sa.Float(), default=0.0, nullable=False),
    _int("memory_request", 0),
)
sa.Table(
    "events",
    METADATA,
    sa.Column("id", sa.Integer(), primary_key=True),
    _str("namespace", index=True),
    _str("kind"),
    _str("name"),
    _str("uid", index=True),
    _str("type"),
    _str("reason"),
    sa.Column("message", sa.Text()),
    _int("count", 1),
    sa.Column("first_timestamp", _TS),
    sa.Column("last_timestamp", _TS),
)
sa.Table("meta", METADATA, _str("key", primary_key=True), _str("value"))
sa.Table("nodes", METADATA, _str("name", primary_key=True), sa.Column("labels", sa.JSON()), _bool("unschedulable"))
sa.Table(
    "revisions",
    METADATA,
    _str("id", primary_key=True),
    _str("owner_uid", index=True),
    _str("name"),
    _str("hash"),
    _int("revision"),
    sa.Column("template", sa.JSON()),
    _str("change_cause", ""),
    sa.Column("created_at", _TS),
)
