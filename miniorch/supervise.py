"""Crashes outside the supervised tasks: threads, loop callbacks, unraisable errors.

`install(loop)` routes `threading.excepthook`, `sys.unraisablehook` and the loop's
exception handler through structlog (no raw traceback on stderr). A thread that
dies of an exception is a supervised task that died (STYLE rule 8): `watch()`
then raises, and the daemon exits non-zero. Errors the loop reports itself (a
callback that raised, a client dropping its connection) are logged only.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
import threading
import types
from collections.abc import Callable
from typing import Any

import structlog

from miniorch.errors import MiniorchError

log = structlog.get_logger(__name__)


class ThreadCrashed(MiniorchError):
    """A thread of the daemon died of an unexpected exception."""

    def __init__(self, thread: str, error: BaseException) -> None:
        super().__init__(f"thread {thread!r} died: {error!r}")
        self.thread = thread
        self.error = error


def cause_of(exc: BaseException) -> str | None:
    """The exception behind `exc` (`raise ... from`, or the one being handled), for the log."""
    inner = exc.__cause__ or exc.__context__
    return repr(inner) if inner is not None else None


def _exc_info(exc: BaseException) -> tuple[type[BaseException], BaseException, types.TracebackType | None]:
    return type(exc), exc, exc.__traceback__


class Supervisor:
    """Installs the hooks; `watch()` is the daemon's task that fails when a thread crashed."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._crash: asyncio.Future[ThreadCrashed] = loop.create_future()
        self._saved: tuple[Any, Any, Any] | None = None

    def install(self) -> Supervisor:
        self._saved = (threading.excepthook, sys.unraisablehook, self._loop.get_exception_handler())
        threading.excepthook = self._thread_died
        sys.unraisablehook = self._unraisable
        self._loop.set_exception_handler(self._loop_error)
        return self

    def uninstall(self) -> None:
        if self._saved is not None:
            threading.excepthook, sys.unraisablehook, handler = self._saved
            self._loop.set_exception_handler(handler)
            self._saved = None

    async def watch(self) -> None:
        """Return never; raise ThreadCrashed once a thread died."""
        raise await self._crash

    # -- the hooks --------------------------------------------------------
    def _thread_died(self, args: threading.ExceptHookArgs) -> None:
        exc = args.exc_value if args.exc_value is not None else args.exc_type()
        if isinstance(exc, SystemExit):
            return  # a thread that chose to end, as the default hook treats it
        name = args.thread.name if args.thread is not None else "?"
        log.error("thread_crashed", thread=name, error=repr(exc), cause=cause_of(exc), exc_info=_exc_info(exc))
        self._call_in_loop(self._crashed, ThreadCrashed(name, exc))

    def _crashed(self, crash: ThreadCrashed) -> None:
        if not self._crash.done():
            self._crash.set_result(crash)

    def _call_in_loop(self, fn: Callable[[ThreadCrashed], None], crash: ThreadCrashed) -> None:
        with contextlib.suppress(RuntimeError):  # the loop is closed: the daemon is ending anyway
            self._loop.call_soon_threadsafe(fn, crash)

    def _unraisable(self, args: Any) -> None:
        exc = args.exc_value
        log.error(
            "unraisable_exception",
            message=args.err_msg or "exception ignored",
            object=repr(args.object),
            error=repr(exc),
            exc_info=_exc_info(exc) if exc is not None else None,
        )

    def _loop_error(self, loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        exc = context.get("exception")
        log.error(
            "event_loop_error",
            message=context.get("message", ""),
            error=repr(exc) if exc is not None else None,
            cause=cause_of(exc) if exc is not None else None,
            exc_info=_exc_info(exc) if exc is not None else None,
        )


def install(loop: asyncio.AbstractEventLoop) -> Supervisor:
    """Route every unhandled error of threads and `loop` into structlog; see `Supervisor`."""
    return Supervisor(loop).install()


def log_failure(task: asyncio.Future[Any], event: str, **fields: Any) -> None:
    """Done-callback of a task scoped to one request (a log follow): its crash is logged
    through structlog and ends that request only, never the daemon."""
    if task.cancelled() or (exc := task.exception()) is None:
        return
    log.error(event, error=repr(exc), cause=cause_of(exc), exc_info=_exc_info(exc), **fields)
