"""The leader lease in the shared database: take it when free or expired, renew it, hand it back.

One row (`leases.name = 'leader'`) says who leads, where its API is, until when, and an
epoch that grows at each change of leader (the fencing counter). Times come from the
database's own clock on PostgreSQL, so daemons on hosts with skewed clocks agree;
the row is locked (`FOR UPDATE`) while it is read and changed.
"""

from __future__ import annotations

import dataclasses
import datetime as dt

import sqlalchemy
from sqlalchemy.engine import Connection, Engine

from miniorch.errors import TemporaryError
from miniorch.store import tables
from miniorch.store.errors import StoreUnavailable

_LEASES = tables.LeaseRow.__table__  # type: ignore[attr-defined]
LEADER = "leader"


class LeaseUnavailable(TemporaryError):
    """The database did not answer a lease call (down, unreachable, or slow): ask again later."""


def _unavailable(exc: BaseException) -> LeaseUnavailable:
    orig = getattr(exc, "orig", None) or exc
    return LeaseUnavailable((str(orig).strip().splitlines() or [type(orig).__name__])[0][:200])


@dataclasses.dataclass(frozen=True)
class LeaseState:
    """The lease as one attempt to take or renew it left it."""

    holder: str
    address: str
    epoch: int
    expires_at: dt.datetime
    mine: bool  # the caller holds it now


def _db_now(conn: Connection) -> dt.datetime:
    if conn.dialect.name == "postgresql":
        value: dt.datetime = conn.execute(sqlalchemy.text("SELECT now()")).scalar_one()
        return value.astimezone(dt.UTC)
    return dt.datetime.now(dt.UTC)  # SQLite: one host only (ha.enabled needs PostgreSQL)


def _aware(value: dt.datetime) -> dt.datetime:
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


class Leases:
    """The lease operations on one database (each a short transaction)."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def acquire(self, holder: str, address: str, seconds: float) -> LeaseState | None:
        """Take the lease if free, expired or already ours (then it is renewed); None if no row exists
        and another daemon inserted one at the same instant. Not ours: the current holder's state."""
        c = _LEASES.c
        try:
            with self._engine.begin() as conn:
                now = _db_now(conn)
                until = now + dt.timedelta(seconds=seconds)
                row = conn.execute(sqlalchemy.select(_LEASES).where(c.name == LEADER).with_for_update()).first()
                if row is None:
                    conn.execute(
                        _LEASES.insert().values(name=LEADER, holder=holder, address=address, epoch=1, expires_at=until)
                    )
                    return LeaseState(holder, address, 1, until, True)
                expires = _aware(row.expires_at)
                if row.holder != holder and expires > now:
                    return LeaseState(row.holder, row.address, row.epoch, expires, False)
                epoch = row.epoch if row.holder == holder and expires > now else row.epoch + 1
                conn.execute(
                    _LEASES.update()
                    .where(c.name == LEADER)
                    .values(holder=holder, address=address, epoch=epoch, expires_at=until)
                )
                return LeaseState(holder, address, epoch, until, True)
        except sqlalchemy.exc.IntegrityError:
            return None  # raced another daemon to the first insert: ask again
        except (sqlalchemy.exc.SQLAlchemyError, OSError, StoreUnavailable) as exc:
            raise _unavailable(exc) from exc

    def renew(self, holder: str, epoch: int, seconds: float) -> LeaseState | None:
        """Extend our lease of `epoch`; None when it is no longer ours (expired and taken, or released)."""
        c = _LEASES.c
        try:
            with self._engine.begin() as conn:
                now = _db_now(conn)
                until = now + dt.timedelta(seconds=seconds)
                done = conn.execute(
                    _LEASES.update()
                    .where(c.name == LEADER, c.holder == holder, c.epoch == epoch, c.expires_at > now)
                    .values(expires_at=until)
                    .returning(c.address)
                ).first()
        except (sqlalchemy.exc.SQLAlchemyError, OSError, StoreUnavailable) as exc:
            raise _unavailable(exc) from exc
        return LeaseState(holder, done.address, epoch, until, True) if done is not None else None

    def release(self, holder: str, epoch: int) -> None:
        """Give the lease up at once (clean shutdown): a standby need not wait for it to expire."""
        c = _LEASES.c
        try:
            with self._engine.begin() as conn:
                conn.execute(
                    _LEASES.update()
                    .where(c.name == LEADER, c.holder == holder, c.epoch == epoch)
                    .values(expires_at=_db_now(conn))
                )
        except (sqlalchemy.exc.SQLAlchemyError, OSError, StoreUnavailable) as exc:
            raise _unavailable(exc) from exc

    def current(self) -> LeaseState | None:
        """Who holds the lease (`mine` is False: this reads, it does not take)."""
        try:
            with self._engine.connect() as conn:
                row = conn.execute(sqlalchemy.select(_LEASES).where(_LEASES.c.name == LEADER)).first()
        except (sqlalchemy.exc.SQLAlchemyError, OSError, StoreUnavailable) as exc:
            raise _unavailable(exc) from exc
        if row is None:
            return None
        return LeaseState(row.holder, row.address, row.epoch, _aware(row.expires_at), False)
