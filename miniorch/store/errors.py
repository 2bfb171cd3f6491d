"""Errors of the store that other layers handle (they never see SQLAlchemy's)."""

from __future__ import annotations

from miniorch.errors import TemporaryError


class StoreUnavailable(TemporaryError):
    """The database did not answer (down, restarting, unreachable): nothing was written; try again later."""
