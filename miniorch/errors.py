"""The root of every error miniorch raises: `except MiniorchError` catches all of ours.

The temporary/permanent split is one attribute, `temporary`: True when trying again later may
help (a database or node did not answer), False (the default) when only a change of config,
manifest or command does. `TemporaryError` is the base of the first kind; a subclass or an
instance may override it (`NodeUntrusted`, a NodeUnavailable, is permanent), so test
`exc.temporary` / `is_temporary(exc)`, not the class. Imports nothing: `ctl` loads it at start-up.
"""

from __future__ import annotations


class MiniorchError(Exception):
    """An error of miniorch with a message written for the user (what, where, what to do)."""

    temporary: bool = False


class TemporaryError(MiniorchError):
    """Nothing was done because something did not answer (database, node): retrying may succeed."""

    temporary = True


def is_temporary(exc: BaseException) -> bool:
    """True for our errors that a retry may fix; False for permanent ones and for anything not ours."""
    return isinstance(exc, MiniorchError) and exc.temporary
