"""The Store's database handle: the engine (SQLite WAL or PostgreSQL via psycopg 3) and the write lock.

Every concern of the Store (objects, pods, events, revisions, cluster) shares one `Db`:
writes and cache changes happen while holding `Db.lock` (see `caches` for the rule).
"""

from __future__ import annotations

import dataclasses
import json
import threading
from collections.abc import Callable
from typing import Any

import orjson
import sqlalchemy
from sqlalchemy import event
from sqlalchemy.engine import Engine

from miniorch.store.errors import StoreUnavailable

#: How long a transaction may sit idle in PostgreSQL (ours take ms between statements).
IDLE_IN_TRANSACTION_MS = 5000


@dataclasses.dataclass(frozen=True)
class Db:
    engine: Engine
    lock: threading.Lock


def create(url: str, password: str | None = None) -> Engine:
    """An engine on `url`; `password` (from `database_password_file`) goes to the driver only."""
    sqlite = url.startswith("sqlite")
    connect_args: dict[str, Any] = {"check_same_thread": False, "timeout": 30} if sqlite else {}
    if password is not None and not sqlite:
        connect_args["password"] = password
    if not sqlite:
        connect_args.setdefault("connect_timeout", 10)
        # A daemon frozen mid-transaction (SIGSTOP, a paused VM) would hold the version counter's row
        # lock, and with it every write of the leader that took over, until it woke: PostgreSQL ends
        # such a transaction (and its session) after this long idle.
        connect_args["options"] = f"-c idle_in_transaction_session_timeout={IDLE_IN_TRANSACTION_MS}"
    engine = sqlalchemy.create_engine(
        engine_url(url), connect_args=connect_args, json_serializer=json_text, json_deserializer=json_value
    )
    if sqlite:
        event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def json_text(value: Any) -> str:
    """JSON columns written by orjson; the stdlib's encoder for what orjson refuses (an integer
    beyond 64 bits), so nothing a manifest may hold fails to store."""
    try:
        return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()
    except TypeError:
        return json.dumps(value)


def json_value(text: str | bytes) -> Any:
    """JSON columns read by orjson: 4x the stdlib's decoder, where listing 20,000 Jobs spent 80 % of
    its time; the stdlib's for what orjson refuses (NaN written by an older encoder)."""
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return json.loads(text)


_WRITES = ("INSERT", "UPDATE", "DELETE")


def fence_writes(engine: Engine, allowed: Callable[[], bool]) -> None:
    """From now on every write but the lease's raises StoreUnavailable while `allowed()` is False:
    a leader whose lease lapsed (frozen, or cut off) writes nothing in the moment before it steps
    down, as its Docker changes are fenced. The lease's own rows stay writable (taking it again)."""

    def check(_conn: Any, _cursor: Any, statement: str, *_rest: Any) -> None:
        if allowed() or statement.lstrip()[:6].upper() not in _WRITES:
            return
        if " leases" in statement[:80].lower():
            return
        raise StoreUnavailable("this daemon lost its leader lease: it writes nothing more, and steps down")

    event.listen(engine, "before_cursor_execute", check)


def classify_errors(engine: Engine) -> None:
    """From here on a database that stops answering is one error type the controllers handle
    (retry the pass, defer the operation); opening it was classified by `database.open_store`."""
    event.listen(engine, "handle_error", _unavailable)


def engine_url(url: str) -> str:
    """`postgresql://...` means psycopg 3 (the driver miniorch installs), not SQLAlchemy's psycopg2 default."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def _unavailable(ctx: sqlalchemy.engine.ExceptionContext) -> None:
    """SQLAlchemy's error hook: a lost or refused connection becomes StoreUnavailable; the rest is left alone."""
    orig = ctx.original_exception
    lost = ctx.is_disconnect or (
        ctx.dialect is not None
        and ctx.dialect.name == "postgresql"
        and type(orig).__name__ != "IntegrityError"
        and isinstance(orig, ctx.dialect.loaded_dbapi.OperationalError)
    )
    if lost:
        first = (str(orig).strip().splitlines() or [type(orig).__name__])[0]
        raise StoreUnavailable(f"the database did not answer: {first}") from ctx.sqlalchemy_exception


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.close()
