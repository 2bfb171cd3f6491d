"""Errors of the store that other layers handle (they never see SQLAlchemy's)."""

from __future__ import annotations


class StoreUnavailable(Exception):
    """The database did not answer (down, restarting, unreachable): nothing was written; try again later."""
