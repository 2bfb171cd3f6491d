"""The ctl side of the API: httpx over the daemon's unix socket.

Transport failures and API errors become `CtlError` with a message a user can
act on; only the CLI entry point turns them into exit codes.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx

from miniorch import config as config_mod


class CtlError(Exception):
    """Printed as `error: ...` and exit code 1."""


class NotFoundError(CtlError):
    pass


def resolve_socket(flag: str | None) -> Path:
    """--socket, then $MINIORCH_SOCKET, then the default socket."""
    if flag:
        return Path(flag)
    env = os.environ.get("MINIORCH_SOCKET")
    return Path(env) if env else config_mod.default_socket()


class Client:
    def __init__(self, socket: Path, timeout: float = 30.0, transport: httpx.BaseTransport | None = None) -> None:
        self.socket = socket
        self._http = httpx.Client(
            transport=transport or httpx.HTTPTransport(uds=str(socket)), base_url="http://miniorch", timeout=timeout
        )

    def close(self) -> None:
        self._http.close()

    def _unreachable(self, exc: Exception) -> CtlError:
        why = "no such socket" if not self.socket.exists() else f"{type(exc).__name__}: {exc}"
        return CtlError(
            f"cannot reach the miniorch daemon at {self.socket} ({why}); start it with "
            "'miniorch daemon --config FILE' (or 'systemctl start miniorch'), or point --socket / "
            "MINIORCH_SOCKET at its socket"
        )

    def request(self, method: str, path: str, **kw: Any) -> Any:
        try:
            resp = self._http.request(method, path, **kw)
        except PermissionError as exc:
            raise CtlError(f"permission denied on {self.socket}; run as a member of the socket's group") from exc
        except httpx.TransportError as exc:
            raise self._unreachable(exc) from exc
        if resp.status_code >= 400:
            try:
                body = resp.json()
                message = body.get("message") or resp.text
            except ValueError:
                message = resp.text
            if resp.status_code == 404:
                raise NotFoundError(message)
            raise CtlError(message)
        ctype = resp.headers.get("content-type", "")
        return resp.json() if ctype.startswith("application/json") else resp.text

    def stream(self, path: str, params: dict[str, Any]) -> Iterator[bytes]:
        try:
            with self._http.stream("GET", path, params=params, timeout=None) as resp:
                if resp.status_code >= 400:
                    resp.read()
                    raise (
                        NotFoundError(resp.json().get("message", resp.text))
                        if resp.status_code == 404
                        else CtlError(resp.text)
                    )
                yield from resp.iter_bytes()
        except httpx.TransportError as exc:
            raise self._unreachable(exc) from exc
