"""HTTP/1.1 to the daemon over a plain socket: its unix socket, or TCP (TLS for https).

The few lines of HTTP that `ctl` needs (one request per connection, `Connection: close`;
bodies by Content-Length, chunked or to the end; streams read chunk by chunk as they arrive),
because httpx cost every `ctl` start ~50 ms and `http.client` (email, ssl) ~25 ms.
`ssl` is imported only for an https --server.
"""

from __future__ import annotations

import json
import socket as net
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any
from urllib.parse import urlencode, urlsplit

from miniorch.errors import TemporaryError


class ProtocolError(TemporaryError):
    """The daemon's answer is not the HTTP/1.1 this module reads."""


#: what a transport failure can raise: the OS's errors (timeouts, refusals, TLS) and a broken answer.
TRANSPORT_ERRORS = (OSError, ProtocolError)


@dataclass(frozen=True)
class Endpoint:
    """Where the daemon is: its unix `socket`, or `server` (http(s)://host:port[/prefix])."""

    socket: Path
    server: str | None = None
    ca_file: str | None = None

    def check(self) -> None:
        """Raise ValueError for a --server this client cannot use."""
        if self.server and urlsplit(self.server).scheme not in ("http", "https"):
            raise ValueError(f"--server {self.server}: use http://HOST:PORT or https://HOST:PORT")

    def connect(self, timeout: float | None) -> tuple[net.socket, str]:
        """A connected socket, and the Host header for it."""
        if not self.server:
            sock = net.socket(net.AF_UNIX, net.SOCK_STREAM)
            sock.settimeout(timeout)
            try:
                sock.connect(str(self.socket))
            except OSError:
                sock.close()
                raise
            return sock, "miniorch"
        url = urlsplit(self.server)
        https = url.scheme == "https"
        host, port = url.hostname or "localhost", url.port or (443 if https else 80)
        sock = net.create_connection((host, port), timeout=timeout)
        if https:
            import ssl

            context = ssl.create_default_context(cafile=self.ca_file)
            try:
                sock = context.wrap_socket(sock, server_hostname=host)
            except OSError:
                sock.close()
                raise
        return sock, url.netloc

    def prefix(self) -> str:
        return urlsplit(self.server).path.rstrip("/") if self.server else ""


BIG_BODY = 256 * 1024


@dataclass(frozen=True)
class Reply:
    status: int
    content_type: str
    body: bytes

    def json(self) -> Any:
        if len(self.body) < BIG_BODY:
            return json.loads(self.body)
        import orjson  # 5x the stdlib on a list of 20,000 rows; its import (some ms) only then

        try:
            return orjson.loads(self.body)
        except orjson.JSONDecodeError:  # what it refuses and the stdlib reads (integers past 64 bits)
            return json.loads(self.body)

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")


class Response:
    """A response whose status line and headers are read; the body is read on demand."""

    def __init__(self, sock: net.socket) -> None:
        self.sock = sock
        self._file: IO[bytes] = sock.makefile("rb")
        status = self._line().split(None, 2)
        if len(status) < 2 or not status[0].startswith(b"HTTP/1.") or not status[1].isdigit():
            raise ProtocolError("the daemon's answer is not HTTP/1.1")
        self.status = int(status[1])
        self.headers: dict[str, str] = {}
        while line := self._line().strip():
            name, _, value = line.decode("latin-1").partition(":")
            self.headers[name.strip().lower()] = value.strip()
        self._chunked = "chunked" in self.headers.get("transfer-encoding", "").lower()
        length = self.headers.get("content-length")
        self._left: int | None = int(length) if length is not None and not self._chunked else None

    def _line(self) -> bytes:
        line = self._file.readline(65537)
        if not line.endswith(b"\n"):
            raise ProtocolError("the daemon's answer ended early")
        return line

    def _exactly(self, size: int) -> bytes:
        data = self._file.read(size)
        if len(data) < size:
            raise ProtocolError("the daemon's answer ended early")
        return data

    def getheader(self, name: str, default: str = "") -> str:
        return self.headers.get(name.lower(), default)

    def chunks(self) -> Iterator[bytes]:
        """The body as it arrives (each chunk the daemon sends, as soon as it is whole)."""
        if self._chunked:
            while size := int(self._line().split(b";")[0].strip() or b"0", 16):
                yield self._exactly(size)
                self._line()  # the CRLF after the chunk
            return
        if self._left is not None:
            if self._left:
                yield self._exactly(self._left)
            return
        while chunk := self._file.read1(65536):  # type: ignore[attr-defined]  # a BufferedReader
            yield chunk

    def read(self) -> bytes:
        return b"".join(self.chunks())

    def close(self) -> None:
        self._file.close()
        self.sock.close()


def _query(params: dict[str, Any] | None) -> str:
    """httpx's encoding: booleans as true/false; None values left out."""
    pairs = [(k, str(v).lower() if isinstance(v, bool) else v) for k, v in (params or {}).items() if v is not None]
    return "?" + urlencode(pairs) if pairs else ""


def send(
    endpoint: Endpoint,
    timeout: float | None,
    method: str,
    path: str,
    headers: dict[str, str],
    params: dict[str, Any] | None = None,
    body: Any = None,
    content_type: str = "application/json",
) -> Response:
    """Send one request, a body as JSON (`content_type`: its media type, e.g. a merge patch's);
    the response comes back with its headers read (the caller closes it)."""
    data = b"" if body is None else json.dumps(body).encode()
    head = {"Accept": "*/*", "Connection": "close", **headers, "Content-Length": str(len(data))}
    if body is not None:
        head["Content-Type"] = content_type
    sock, host = endpoint.connect(timeout)
    try:
        target = endpoint.prefix() + path + _query(params)
        lines = [f"{method} {target} HTTP/1.1", f"Host: {host}", *(f"{k}: {v}" for k, v in head.items())]
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + data)
        return Response(sock)
    except BaseException:
        sock.close()
        raise


def reply(resp: Response) -> Reply:
    return Reply(resp.status, resp.getheader("content-type"), resp.read())


def lines(resp: Response) -> Iterator[bytes]:
    """The body's non-empty lines, as they arrive (NDJSON streams)."""
    pending = b""
    for chunk in resp.chunks():
        *complete, pending = (pending + chunk).split(b"\n")
        yield from (line for line in complete if line.strip())
    if pending.strip():
        yield pending
