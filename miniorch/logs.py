"""Logging setup: structlog, JSON lines when not on a terminal, libraries included.

The only global state in miniorch; called once by the CLI entry points. Our own
events and the stdlib logging of libraries (uvicorn, APScheduler, asyncio, docker,
urllib3, watchdog, warnings) leave through one writer, one rendered line per
event, so no line interleaves with another. Under systemd (stderr is the journal
stream named by $JOURNAL_STREAM) each line starts with its sd-daemon priority
(`<3>` error ... `<7>` debug), so `journalctl -p warning` shows warnings and errors.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
from typing import IO

import structlog
from structlog.types import EventDict, Processor, WrappedLogger

#: sd-daemon(3) priorities by structlog level name.
PRIORITY = {"debug": 7, "info": 6, "warning": 4, "error": 3, "critical": 2}

#: Libraries that log a line per HTTP request or file event at debug: held at info even at `level: debug`.
NOISY_LOGGERS = ("urllib3", "docker", "httpcore", "httpx", "watchdog")


def journal_stream(stream: IO[str]) -> bool:
    """True if `stream` is the journal stream systemd named in $JOURNAL_STREAM (`device:inode`)."""
    value = os.environ.get("JOURNAL_STREAM", "")
    dev, sep, ino = value.partition(":")
    if not sep:
        return False
    try:
        st = os.fstat(stream.fileno())
    except (OSError, ValueError, AttributeError):
        return False
    return f"{st.st_dev}:{st.st_ino}" == f"{dev}:{ino}"


def error_line(text: str, stream: IO[str] | None = None) -> str:
    """`text` as an error line for `stream` (stderr): with the `<3>` prefix when it is the journal."""
    return f"<3>{text}" if journal_stream(stream or sys.stderr) else text


class _Writer:
    """Writes whole lines to one stream under one lock, for structlog and stdlib logging alike."""

    def __init__(self, stream: IO[str]) -> None:
        self.stream = stream
        self._lock = threading.Lock()

    def line(self, text: str) -> None:
        with self._lock:
            self.stream.write(text + "\n")
            self.stream.flush()


class _LineLogger:
    """structlog's final logger: hands the rendered line to the writer (like PrintLogger)."""

    def __init__(self, writer: _Writer) -> None:
        self._writer = writer

    def msg(self, message: str) -> None:
        self._writer.line(message)

    log = debug = info = warn = warning = error = critical = exception = fatal = failure = err = msg


class _Handler(logging.Handler):
    """The root logger's one handler: records rendered by structlog's ProcessorFormatter."""

    def __init__(self, writer: _Writer) -> None:
        super().__init__()
        self._writer = writer

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self._writer.line(self.format(record))
        except Exception:  # logging's own contract: a broken record never raises into its caller
            self.handleError(record)


class _Render:
    """The renderer, plus the journal priority prefix on every line when stderr is the journal."""

    def __init__(self, renderer: Processor, journal: bool) -> None:
        self._renderer = renderer
        self._journal = journal

    def __call__(self, logger: WrappedLogger, name: str, event_dict: EventDict) -> str:
        level = str(event_dict.get("level", "info"))
        text = str(self._renderer(logger, name, event_dict))
        if not self._journal:
            return text
        prefix = f"<{PRIORITY.get(level, 6)}>"
        return "\n".join(prefix + line for line in text.splitlines() or [""])


def _library_event(logger: WrappedLogger, name: str, event_dict: EventDict) -> EventDict:
    """A stdlib record's logger name under `logger`, as our events carry their fields."""
    record = event_dict.get("_record")
    if record is not None:
        event_dict["logger"] = record.name
    if isinstance(event_dict.get("event"), str):
        event_dict["event"] = event_dict["event"].rstrip()  # warnings end in a newline
    return event_dict


def configure(fmt: str = "auto", level: str = "info", stream: IO[str] | None = None) -> None:
    """Route structlog and stdlib logging to `stream` (stderr) as JSON or console lines at `level`."""
    out = stream or sys.stderr
    use_json = fmt == "json" or (fmt == "auto" and not out.isatty())
    renderer: Processor = (
        structlog.processors.JSONRenderer() if use_json else structlog.dev.ConsoleRenderer(colors=False)
    )
    render = _Render(renderer, journal_stream(out))
    writer = _Writer(out)
    shared: list[Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    numeric = getattr(logging, level.upper())
    structlog.configure(
        processors=[*shared, structlog.processors.format_exc_info, render],
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        logger_factory=lambda *_: _LineLogger(writer),
        cache_logger_on_first_use=False,
    )
    handler = _Handler(writer)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=[*shared, _library_event, structlog.processors.format_exc_info],
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, render],
        )
    )
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(numeric)
    for name in NOISY_LOGGERS:
        logging.getLogger(name).setLevel(max(numeric, logging.INFO))
    logging.captureWarnings(True)
