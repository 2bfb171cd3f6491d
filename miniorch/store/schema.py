"""The database schema's version: Alembic migrations applied when a Store opens, or by `miniorch db upgrade`.

A new database is made by the migrations; a database of miniorch 0.1.0 (tables, no
version) is brought up to date and stamped; a database whose revision this miniorch
does not know was written by a newer one and is refused, naming the version it needs.
On PostgreSQL an advisory lock makes daemons that start together upgrade one at a time.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import sqlalchemy
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection, Engine

import miniorch
from miniorch.errors import MiniorchError
from miniorch.store import legacy

# The miniorch release that introduced each revision: a database at revision R needs at least that release.
INTRODUCED_IN = {
    "0001": "0.1.0",
    "0002": "0.2.0.dev0",
    "0003": "0.2.0.dev0",
    "0004": "0.2.0.dev0",
    "0005": "0.2.0.dev0",
    "0006": "0.2.0.dev0",
    "0007": "0.2.0.dev0",
    "0008": "0.2.0.dev0",
}
BASELINE = "0001"  # the schema 0.1.0 made without Alembic
REQUIRES_KEY = "schema_requires_miniorch"
_LOCK_ID = 0x6D696E69  # "mini": the advisory lock key on PostgreSQL


class SchemaTooNew(MiniorchError, RuntimeError):
    """The database was written by a newer miniorch; the message names the version to install."""


@dataclasses.dataclass(frozen=True)
class Upgrade:
    """What opening the database did to its schema."""

    before: str | None  # None: a new database (or 0.1.0's, which had no version)
    after: str

    @property
    def changed(self) -> bool:
        return self.before != self.after


def _config(conn: Connection) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(Path(__file__).parent / "migrations"))
    cfg.attributes["connection"] = conn
    return cfg


def head() -> str:
    """The newest revision this miniorch knows."""
    script = ScriptDirectory(str(Path(__file__).parent / "migrations"))
    revision = script.get_current_head()
    assert revision is not None
    return revision


def current(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def current_of(url: str) -> str | None:
    """The revision of the database at `url` (None: new, or 0.1.0's unversioned schema); changes nothing."""
    from miniorch.store.connect import engine_url

    engine = sqlalchemy.create_engine(engine_url(url))
    try:
        return current(engine)
    finally:
        engine.dispose()


def display_url(url: str) -> str:
    """`url` fit for output and logs: the password, if any, masked."""
    return sqlalchemy.make_url(url).render_as_string(hide_password=True)


def upgrade(engine: Engine) -> Upgrade:
    """Bring the database to `head()`; raises SchemaTooNew for a database of a newer miniorch."""
    newest = head()
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(sqlalchemy.text("SELECT pg_advisory_xact_lock(:k)"), {"k": _LOCK_ID})
        before = MigrationContext.configure(conn).get_current_revision()
        known = {rev.revision for rev in ScriptDirectory.from_config(_config(conn)).walk_revisions()}
        if before is not None and before not in known:
            raise SchemaTooNew(_too_new(conn, before, newest))
        cfg = _config(conn)
        if before is None and _has_tables(conn):
            legacy.bring_to_baseline(conn)  # 0.1.0 and its development versions
            command.stamp(cfg, BASELINE)
        command.upgrade(cfg, "head")
        _write_requirement(conn, INTRODUCED_IN.get(newest, miniorch.__version__))
    return Upgrade(before, newest)


def _has_tables(conn: Connection) -> bool:
    inspector = sqlalchemy.inspect(conn)
    return any(inspector.has_table(name) for name in ("objects", "pods", "events"))


def _too_new(conn: Connection, revision: str, newest: str) -> str:
    needs = conn.execute(
        sqlalchemy.text("SELECT value FROM meta WHERE key = :k"), {"k": REQUIRES_KEY}
    ).scalar_one_or_none()
    wanted = f"miniorch {needs} or newer" if needs else "a newer miniorch"
    return (
        f"the database has schema revision {revision}, which miniorch {miniorch.__version__} does not know "
        f"(its newest is {newest}): it was written by a newer miniorch; install {wanted}, "
        "or point `database`/`state_dir` at another database"
    )


def _write_requirement(conn: Connection, version: str) -> None:
    meta = sqlalchemy.table("meta", sqlalchemy.column("key"), sqlalchemy.column("value"))
    updated = conn.execute(meta.update().where(meta.c.key == REQUIRES_KEY).values(value=version))
    if updated.rowcount == 0:
        conn.execute(meta.insert().values(key=REQUIRES_KEY, value=version))
