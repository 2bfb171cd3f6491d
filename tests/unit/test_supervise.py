"""Errors outside the supervised tasks reach structlog, never stderr; a lost event stream comes back."""

from __future__ import annotations

import asyncio
import gc
import threading
from collections.abc import Callable, Collection, Iterator, MutableMapping
from typing import Any

import pytest
import urllib3.exceptions
from structlog.testing import capture_logs

from miniorch import supervise
from miniorch.controllers.events import DockerEventWatcher
from miniorch.nodes import records as nr
from miniorch.nodes.client import NodeClient


@pytest.fixture
def logs() -> Iterator[list[MutableMapping[str, Any]]]:
    """Structured log events of the test (from every thread)."""
    with capture_logs() as captured:
        yield captured


def _crash_in_thread(name: str) -> None:
    def target() -> None:
        try:
            raise ConnectionResetError(104, "Connection reset by peer")
        except ConnectionResetError as exc:
            raise RuntimeError("stream decoder gave up") from exc

    thread = threading.Thread(target=target, name=name)
    thread.start()
    thread.join()


def test_a_thread_that_dies_is_logged_with_its_cause_and_takes_the_daemon_down(
    logs: list[MutableMapping[str, Any]], capsys: pytest.CaptureFixture[str]
) -> None:
    """thread_crashed (thread, error, cause) in the structured log, no traceback on stderr, watch() raises."""

    async def main() -> BaseException:
        sup = supervise.install(asyncio.get_running_loop())
        try:
            _crash_in_thread("events:node7")
            with pytest.raises(supervise.ThreadCrashed) as crash:
                await asyncio.wait_for(sup.watch(), 5)
            return crash.value
        finally:
            sup.uninstall()

    crash = asyncio.run(main())
    assert "events:node7" in str(crash) and "stream decoder gave up" in str(crash)
    (event,) = [e for e in logs if e["event"] == "thread_crashed"]
    assert event["log_level"] == "error" and event["thread"] == "events:node7"
    assert event["error"] == "RuntimeError('stream decoder gave up')"
    assert event["cause"] == "ConnectionResetError(104, 'Connection reset by peer')"
    assert "Traceback" not in capsys.readouterr().err


def test_uninstall_restores_the_previous_hooks() -> None:
    """The hooks are the daemon's only while installed (tests and embedders get theirs back)."""
    before = threading.excepthook

    async def main() -> None:
        loop = asyncio.get_running_loop()
        sup = supervise.install(loop)
        assert threading.excepthook is not before and loop.get_exception_handler() is not None
        sup.uninstall()
        assert loop.get_exception_handler() is None

    asyncio.run(main())
    assert threading.excepthook is before


def test_an_error_the_event_loop_reports_is_logged_not_printed(
    logs: list[MutableMapping[str, Any]], capsys: pytest.CaptureFixture[str]
) -> None:
    """A loop callback that raises: event_loop_error with the error, nothing on stderr."""

    def bad_callback() -> None:
        raise KeyError("pod")

    async def main() -> None:
        sup = supervise.install(asyncio.get_running_loop())
        try:
            asyncio.get_running_loop().call_soon(bad_callback)
            await asyncio.sleep(0.01)
        finally:
            sup.uninstall()

    asyncio.run(main())
    (event,) = [e for e in logs if e["event"] == "event_loop_error"]
    assert event["error"] == "KeyError('pod')" and "bad_callback" in event["message"]
    assert "Traceback" not in capsys.readouterr().err


def test_a_request_scoped_task_that_crashes_is_logged(logs: list[MutableMapping[str, Any]]) -> None:
    """log_failure (the log follow's done-callback) logs a crash with its cause, ignores a clean end."""

    async def crash() -> None:
        raise ValueError("chunk")

    async def fine() -> None:
        return None

    async def main() -> None:
        for coro in (crash(), fine()):
            task = asyncio.create_task(coro)
            task.add_done_callback(lambda t: supervise.log_failure(t, "log_follow_crashed", pod="p"))
            await asyncio.gather(task, return_exceptions=True)

    asyncio.run(main())
    assert [(e["event"], e["pod"], e["error"]) for e in logs] == [("log_follow_crashed", "p", "ValueError('chunk')")]


# -- the Docker event threads ----------------------------------------------------


class FakeClient:
    """A node's event stream: runs one scripted step per call of watch_events."""

    def __init__(self, steps: list[Callable[..., None]]) -> None:
        self.steps = steps
        self.calls = 0

    def watch_events(
        self,
        on_event: Callable[[str, str], None],
        stop: threading.Event,
        actions: Collection[str] = (),
        on_open: Callable[[], None] | None = None,
    ) -> None:
        step = self.steps[min(self.calls, len(self.steps) - 1)]
        self.calls += 1
        step(on_event, stop, on_open)


class FakeMonitor:
    def __init__(self, client: FakeClient) -> None:
        self.nodes = {"node0": object()}
        self._client = client

    def client(self, name: str) -> FakeClient:
        return self._client

    def reachable(self, name: str) -> bool:
        return True


def reset(on_event: Any, stop: threading.Event, on_open: Any) -> None:
    """The engine went away mid-stream (dockerd restarted)."""
    try:
        raise urllib3.exceptions.ProtocolError("Connection broken", ConnectionResetError(104, "reset"))
    except urllib3.exceptions.ProtocolError as exc:
        raise nr.NodeUnavailable("node0", "events: Docker did not answer") from exc


def serve(on_event: Any, stop: threading.Event, on_open: Any) -> None:
    """The engine is back: the stream opens, one container dies, then it stays quiet."""
    on_open()
    on_event("die", "job-abcde")
    stop.wait(5)


def _watch(client: FakeClient, until: Callable[[list[tuple[str, str, str]]], bool]) -> list[tuple[str, str, str]]:
    seen: list[tuple[str, str, str]] = []
    got = threading.Event()

    def notify(node: str, action: str, pod: str) -> None:
        seen.append((node, action, pod))
        if until(seen):
            got.set()

    watcher = DockerEventWatcher(FakeMonitor(client))  # type: ignore[arg-type]
    watcher.start(notify)
    try:
        assert got.wait(10), seen
    finally:
        watcher.stop()
    return seen


def test_a_reset_event_stream_is_logged_once_with_its_cause_and_reopened(
    logs: list[MutableMapping[str, Any]], capsys: pytest.CaptureFixture[str]
) -> None:
    """Two resets, then the engine answers: one event_stream_lost (with cause), event_stream_resumed,
    a full resync asked for, and the next container death delivered; nothing on stderr."""
    first = _watch(FakeClient([serve]), lambda seen: len(seen) >= 1)
    assert first == [("node0", "die", "job-abcde")]  # a stream that opens at once asks for no resync
    client = FakeClient([reset, reset, serve])
    seen = _watch(client, lambda seen: ("node0", "die", "job-abcde") in seen)
    assert seen == [("node0", "resync", ""), ("node0", "die", "job-abcde")]
    lost = [e for e in logs if e["event"] == "event_stream_lost"]
    assert len(lost) == 1 and lost[0]["node"] == "node0" and lost[0]["log_level"] == "warning"
    assert "ProtocolError" in lost[0]["cause"] and "Connection broken" in lost[0]["cause"]
    (resumed,) = [e for e in logs if e["event"] == "event_stream_resumed"]
    assert resumed["node"] == "node0" and resumed["down_seconds"] >= 0.5  # waited 0.5 s, then 1 s
    assert client.calls == 3
    assert "Traceback" not in capsys.readouterr().err


def test_a_bug_in_an_event_thread_reaches_the_supervisor(
    logs: list[MutableMapping[str, Any]], capsys: pytest.CaptureFixture[str]
) -> None:
    """Not a NodeError: the thread is not restarted blindly; thread_crashed is logged and watch() raises."""

    def bug(on_event: Any, stop: threading.Event, on_open: Any) -> None:
        raise KeyError("Actor")

    async def main() -> BaseException:
        sup = supervise.install(asyncio.get_running_loop())
        watcher = DockerEventWatcher(FakeMonitor(FakeClient([bug])))  # type: ignore[arg-type]
        try:
            watcher.start(lambda node, action, pod: None)
            with pytest.raises(supervise.ThreadCrashed) as crash:
                await asyncio.wait_for(sup.watch(), 5)
            return crash.value
        finally:
            watcher.stop()
            sup.uninstall()

    crash = asyncio.run(main())
    assert "events:node0" in str(crash)
    (event,) = [e for e in logs if e["event"] == "thread_crashed"]
    assert event["thread"] == "events:node0" and event["error"] == "KeyError('Actor')"
    assert "Traceback" not in capsys.readouterr().err


# docker-py leaks the socket of a connect that failed (its unix adapter never closes it).
@pytest.mark.filterwarnings("ignore::ResourceWarning", "ignore::pytest.PytestUnraisableExceptionWarning")
def test_the_event_stream_of_an_engine_that_is_down_raises_node_unavailable(tmp_path: Any) -> None:
    """No socket (dockerd stopped): NodeUnavailable, not docker-py's DockerException escaping the thread."""
    client = NodeClient("node9", f"unix://{tmp_path}/docker.sock", timeout=2)
    with pytest.raises(nr.NodeUnavailable) as err:
        client.watch_events(lambda action, pod: None, threading.Event())
    assert err.value.node == "node9"
    with pytest.raises(nr.NodeUnavailable):
        list(client.follow_logs("p"))
    del err
    gc.collect()  # the leaked sockets are reported within this test, where they are expected


@pytest.mark.parametrize(
    "exc",
    [
        urllib3.exceptions.ProtocolError("Connection broken: IncompleteRead(0 bytes read)"),
        urllib3.exceptions.ReadTimeoutError(None, "/events", "timed out"),  # type: ignore[arg-type]
        ConnectionResetError(104, "Connection reset by peer"),
    ],
)
def test_a_broken_stream_is_a_node_unavailable(exc: Exception) -> None:
    """Errors docker-py lets escape from a stream read are translated like any transport error."""
    assert isinstance(NodeClient("n", "unix:///nowhere")._translate(exc, "events"), nr.NodeUnavailable)
