"""The one way the daemon starts tasks and threads, and where their crashes go.

`start_thread` and `spawn` start every thread and task of the daemon; each ends with a
structlog fact naming it and its cause. `install(loop)` routes `threading.excepthook`,
`sys.unraisablehook` and the loop's exception handler through structlog (no raw traceback
on stderr). A thread that dies of an exception, or a task started by `Supervisor.spawn`, is
a supervised task that died (STYLE rule 8): `watch()` then raises, and the daemon exits
non-zero. Errors the loop reports itself (a client dropping its connection) are logged only.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
import threading
import types
from collections.abc import Callable, Coroutine
from typing import Any

import structlog

from miniorch.errors import MiniorchError

log = structlog.get_logger(__name__)


class ThreadCrashed(MiniorchError):
    """A thread (or a task started by `Supervisor.spawn`) of the daemon died of an unexpected exception."""

    def __init__(self, thread: str, error: BaseException, what: str = "thread") -> None:
        super().__init__(f"{what} {thread!r} died: {error!r}")
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
        """Return never; raise ThreadCrashed once a thread (or a task it spawned) died."""
        raise await self._crash

    def spawn(self, coro: Coroutine[Any, Any, Any], name: str) -> asyncio.Task[Any]:
        """`spawn(coro, name)`, and a crash of that task takes the daemon down through `watch()`."""

        def fatal(task: asyncio.Task[Any]) -> None:
            if not task.cancelled() and (exc := task.exception()) is not None:
                self._crashed(ThreadCrashed(name, exc, "task"))

        task = spawn(coro, name)
        task.add_done_callback(fatal)
        return task

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


def start_thread(target: Callable[..., str | None], name: str, *args: Any) -> threading.Thread:
    """Start daemon thread `name` running `target(*args)`. Its end is logged: `thread_ended` with the
    cause `target` returns (or "returned"); a crash goes to `threading.excepthook`, which
    `install` routes to the Supervisor (`thread_crashed`, and the daemon goes down)."""

    def run() -> None:
        cause = target(*args)
        log.info("thread_ended", thread=name, cause=cause or "returned")

    thread = threading.Thread(target=run, name=name, daemon=True)
    thread.start()
    return thread


def spawn(coro: Coroutine[Any, Any, Any], name: str, *, quiet: bool = False) -> asyncio.Task[Any]:
    """Start task `name` on the running loop; its end is logged with its cause (`task_ended`:
    returned or cancelled; `task_crashed` with the error). `quiet`: frequent short tasks (a
    heartbeat probe) log only a crash. The task's owner still awaits it or checks its result."""
    task = asyncio.get_running_loop().create_task(coro, name=name)
    task.add_done_callback(lambda done: _task_ended(done, quiet))
    return task


def _task_ended(task: asyncio.Task[Any], quiet: bool) -> None:
    if task.cancelled():
        if not quiet:
            log.info("task_ended", task=task.get_name(), cause="cancelled")
    elif (exc := task.exception()) is not None:
        log.error("task_crashed", task=task.get_name(), error=repr(exc), cause=cause_of(exc), exc_info=_exc_info(exc))
    elif not quiet:
        log.info("task_ended", task=task.get_name(), cause="returned")
