"""Webhook receivers for the notification tests: HTTP servers on 127.0.0.1 that record every POST.

`Receiver(mode)`: "ok" answers 200; "fail" answers 503 until `recover()`; "hang" never answers
(until the test stops it). Each POST is kept with its arrival time (`received`). Use as a
context manager: the server stops with the test.
"""

from __future__ import annotations

import http.server
import json
import threading
import time
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Post:
    at: float  # time.time() of arrival
    path: str
    body: dict[str, Any]
    status: int  # what the receiver answered (0: nothing, it hung)


class Receiver:
    def __init__(self, mode: str = "ok") -> None:
        self.mode = mode
        self.received: list[Post] = []
        self._lock = threading.Lock()
        self._release = threading.Event()
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - the http.server API
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                outer._handle(self, body)

            def log_message(self, *args: Any) -> None:
                return None

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def _handle(self, handler: http.server.BaseHTTPRequestHandler, body: dict[str, Any]) -> None:
        mode = self.mode
        status = {"ok": 200, "fail": 503}.get(mode, 0)
        with self._lock:
            self.received.append(Post(time.time(), handler.path, body, status))
        if mode == "hang":
            self._release.wait(120)
            return
        handler.send_response(status)
        handler.send_header("Content-Length", "2")
        handler.end_headers()
        handler.wfile.write(b"ok")

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}/hook/T000/secret-token"

    def recover(self) -> None:
        self.mode = "ok"

    def delivered(self) -> list[Post]:
        """The POSTs answered 2xx."""
        with self._lock:
            return [p for p in self.received if 200 <= p.status < 300]

    def __enter__(self) -> Receiver:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._release.set()
        self._server.shutdown()
        self._server.server_close()
