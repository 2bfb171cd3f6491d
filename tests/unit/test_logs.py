"""Logging: our events and the libraries' stdlib records leave as one line each, JSON with the same keys,
with the sd-daemon priority prefix when stderr is the journal stream."""

from __future__ import annotations

import json
import logging
import os
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import pytest
import structlog

from miniorch import logs


@pytest.fixture
def log_file(tmp_path: Path) -> Iterator[IO[str]]:
    """A file standing in for stderr; the global logging setup is restored afterwards."""
    root = logging.getLogger()
    saved = (list(root.handlers), root.level, {n: logging.getLogger(n).level for n in logs.NOISY_LOGGERS})
    with (tmp_path / "stderr").open("w+") as out:
        yield out
    for handler in list(root.handlers):
        root.removeHandler(handler)
    for handler in saved[0]:
        root.addHandler(handler)
    root.setLevel(saved[1])
    for name, level in saved[2].items():
        logging.getLogger(name).setLevel(level)
    logging.captureWarnings(False)
    structlog.reset_defaults()


def lines(out: IO[str]) -> list[str]:
    out.seek(0)
    return out.read().splitlines()


def emit_one_of_each() -> None:
    own = structlog.get_logger("miniorch.test")
    own.debug("pass_planned", objects=2)
    logging.getLogger("uvicorn.error").info("Started server process [%d]", 42)
    logging.getLogger("apscheduler.scheduler").warning("Run time of job %r was missed", "tick")
    own.error("node_not_ready", node="edge-1")


def test_own_events_and_library_records_are_json_lines_with_the_same_keys(log_file: IO[str]) -> None:
    """structlog events and stdlib records (uvicorn, APScheduler) are each one JSON object: event, level, timestamp."""
    logs.configure("json", "debug", log_file)
    emit_one_of_each()
    events = [json.loads(line) for line in lines(log_file)]
    assert [(e["event"], e["level"], e.get("logger")) for e in events] == [
        ("pass_planned", "debug", None),
        ("Started server process [42]", "info", "uvicorn.error"),
        ("Run time of job 'tick' was missed", "warning", "apscheduler.scheduler"),
        ("node_not_ready", "error", None),
    ]
    assert all(e["timestamp"].endswith("Z") for e in events)


def test_library_exceptions_and_warnings_are_json_too(log_file: IO[str]) -> None:
    """A library's logged exception carries its traceback in `exception`; a Python warning is a warning line."""
    logs.configure("json", "info", log_file)
    try:
        raise ConnectionResetError("peer reset")
    except ConnectionResetError:
        logging.getLogger("asyncio").exception("Task exception was never retrieved")
    with warnings.catch_warnings():
        warnings.simplefilter("always")
        warnings.warn("old api", DeprecationWarning, stacklevel=1)
    first, second = (json.loads(line) for line in lines(log_file))
    assert first["level"] == "error" and "ConnectionResetError: peer reset" in first["exception"]
    assert second["level"] == "warning" and second["logger"] == "py.warnings" and "old api" in second["event"]


@pytest.mark.parametrize(("level", "shown"), [("debug", 4), ("info", 3), ("warning", 2), ("error", 1)])
def test_level_filters_our_events_and_the_libraries_alike(log_file: IO[str], level: str, shown: int) -> None:
    """log.level applies to stdlib records as to our own events."""
    logs.configure("json", level, log_file)
    emit_one_of_each()
    assert len(lines(log_file)) == shown


def test_wire_level_debug_of_http_libraries_is_held_back_at_debug(log_file: IO[str]) -> None:
    """At level debug, urllib3's per-request debug lines are left out; its warnings still pass."""
    logs.configure("json", "debug", log_file)
    logging.getLogger("urllib3.connectionpool").debug("http://localhost:None GET /v1.45/info 200")
    logging.getLogger("urllib3.connectionpool").warning("Connection pool is full")
    assert [json.loads(line)["event"] for line in lines(log_file)] == ["Connection pool is full"]


def test_on_the_journal_stream_every_line_starts_with_its_priority(
    log_file: IO[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """With $JOURNAL_STREAM naming the stream: <7> debug, <6> info, <4> warning, <3> error, for both sources."""
    st = os.fstat(log_file.fileno())
    monkeypatch.setenv("JOURNAL_STREAM", f"{st.st_dev}:{st.st_ino}")
    logs.configure("json", "debug", log_file)
    emit_one_of_each()
    got = [(line[:3], json.loads(line[3:])["level"]) for line in lines(log_file)]
    assert got == [("<7>", "debug"), ("<6>", "info"), ("<4>", "warning"), ("<3>", "error")]
    assert logs.error_line("error: x", log_file) == "<3>error: x"


@pytest.mark.parametrize("value", ["", "0:0", "garbage"])
def test_no_prefix_when_journal_stream_names_another_stream(
    log_file: IO[str], monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    """A $JOURNAL_STREAM inherited by a process whose stderr goes elsewhere adds no prefix."""
    monkeypatch.setenv("JOURNAL_STREAM", value)
    logs.configure("json", "info", log_file)
    structlog.get_logger().info("daemon_ready")
    assert json.loads(lines(log_file)[0])["event"] == "daemon_ready"
    assert logs.error_line("error: x", log_file) == "error: x"
