"""Opening the state database: errors a user can act on, and the password kept out of every string.

`open_store` tells a database that refuses us (wrong password, no such database, no
rights: fix the config, exit 2) from one that is not there yet (down, restarting,
unreachable: retry, logging why). Messages are the server's first line, never the URL's
password nor SQLAlchemy's statement dumps.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import sqlalchemy.exc

from miniorch.errors import MiniorchError
from miniorch.store import schema
from miniorch.store.store import Store

# SQLSTATE classes and codes that retrying cannot fix (PostgreSQL appendix A).
_PERMANENT_STATES = {"28000", "28P01", "3D000", "42501", "42P01", "0A000"}
_PERMANENT_WORDS = (
    "password authentication failed",
    "no password supplied",
    "does not exist",
    "permission denied",
    "no pg_hba.conf entry",
    "role",
    "invalid dsn",
    "invalid connection option",
)


class DatabaseError(MiniorchError):
    """The database cannot be used; `permanent` when only a config change can fix it (else `temporary`)."""

    def __init__(self, message: str, permanent: bool) -> None:
        super().__init__(message)
        self.permanent = permanent
        self.temporary = not permanent


def explain(exc: BaseException, url: str) -> DatabaseError:
    """Our error for a driver/SQLAlchemy failure while opening `url` (shown with its password masked)."""
    orig = getattr(exc, "orig", None) or exc
    state = getattr(orig, "sqlstate", None) or ""
    first = (str(orig).strip().splitlines() or [type(orig).__name__])[0]
    first = first.removeprefix("connection failed: ")
    permanent = state in _PERMANENT_STATES or any(w in first.lower() for w in _PERMANENT_WORDS)
    if isinstance(exc, sqlalchemy.exc.ArgumentError | ValueError):
        permanent = True
    where = schema.display_url(url) if "://" in url else "the database"
    hint = "check `database` and `database_password_file` in the config" if permanent else "retrying"
    return DatabaseError(f"database {where}: {first} ({hint})", permanent)


def open_store(
    url: str,
    password: str | None = None,
    on_retry: Callable[[DatabaseError, float], None] | None = None,
    max_wait: float = 30.0,
    sleep: Callable[[float], None] = time.sleep,
) -> Store:
    """A Store on `url`; waits (1 s doubling to `max_wait`) while the database is unreachable.

    Raises DatabaseError(permanent=True) when the database refuses us, and SchemaTooNew
    for a database of a newer miniorch; `on_retry` hears each wait with its reason."""
    delay = 1.0
    while True:
        try:
            return Store(url, password=password)
        except schema.SchemaTooNew:
            raise
        except (sqlalchemy.exc.SQLAlchemyError, OSError, ValueError) as exc:
            error = explain(exc, url)
            if error.permanent or on_retry is None:
                raise error from exc
            on_retry(error, delay)
            sleep(delay)
            delay = min(delay * 2, max_wait)
