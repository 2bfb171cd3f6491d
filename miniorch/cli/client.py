"""The ctl side of the API: httpx over the daemon's unix socket.

Transport failures and API errors become `CtlError` with a message a user can
act on; only the CLI entry point turns them into exit codes.
"""

from __future__ import annotations

import json
import os
import ssl
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from miniorch import paths
from miniorch.errors import MiniorchError

# httpx without its own command-line module: `httpx._main` pulls in click, rich and pygments
# (40 ms of every ctl start), and httpx falls back cleanly when it cannot be imported.
if "httpx" not in sys.modules:
    sys.modules["httpx._main"] = None  # type: ignore[assignment]  # a None entry makes that import fail
    try:
        import httpx
    finally:
        del sys.modules["httpx._main"]
import httpx  # noqa: E402


class CtlError(MiniorchError):
    """Printed as `error: ...` and exit code 1."""


class NotFoundError(CtlError):
    pass


def resolve_socket(flag: str | None) -> Path:
    """--socket, then $MINIORCH_SOCKET, then the default socket."""
    if flag:
        return Path(flag)
    env = os.environ.get("MINIORCH_SOCKET")
    return Path(env) if env else paths.default_socket()


def read_token_file(path: str) -> str:
    """The bearer token for --server (the file `api.token_file` of the daemon, or a copy)."""
    try:
        return Path(path).read_text().strip()
    except OSError as exc:
        raise CtlError(f"cannot read the token file {path}: {exc.strerror}") from exc


class Client:
    def __init__(
        self,
        socket: Path,
        timeout: float = 30.0,
        transport: httpx.BaseTransport | None = None,
        server: str | None = None,
        token: str | None = None,
        ca_file: str | None = None,
    ) -> None:
        """Over the unix `socket`, or over TCP to `server` (http(s)://host:port) with a bearer `token`."""
        self.socket = socket
        self.server = server
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        if server:
            self._http = httpx.Client(
                transport=transport,
                base_url=server,
                timeout=timeout,
                headers=headers,
                verify=ssl.create_default_context(cafile=ca_file) if ca_file else True,
            )
        else:
            # No TLS over the socket: building a default SSL context (certifi's bundle) costs 20 ms.
            self._http = httpx.Client(
                transport=transport or httpx.HTTPTransport(uds=str(socket), verify=False),
                base_url="http://miniorch",
                timeout=timeout,
                verify=False,
            )

    def close(self) -> None:
        self._http.close()

    def _unreachable(self, exc: Exception) -> CtlError:
        if self.server:
            return CtlError(
                f"cannot reach the miniorch daemon at {self.server} ({_why(exc)}); check that its "
                "api.tcp listener is on and the address, and with https the --certificate-authority file"
            )
        why = "no such socket" if not self.socket.exists() else _why(exc)
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
            message = _api_message(resp)
            if resp.status_code == 404:
                raise NotFoundError(message)
            if resp.status_code == 401:
                raise CtlError(f"{message} (the daemon refused the token; check --token-file)")
            raise CtlError(message)
        ctype = resp.headers.get("content-type", "")
        return resp.json() if ctype.startswith("application/json") else resp.text

    def stream(self, path: str, params: dict[str, Any]) -> Iterator[bytes]:
        try:
            with self._http.stream("GET", path, params=params, timeout=None) as resp:
                if resp.status_code >= 400:
                    resp.read()
                    raise NotFoundError(_api_message(resp)) if resp.status_code == 404 else CtlError(_api_message(resp))
                yield from resp.iter_bytes()
        except httpx.TransportError as exc:
            raise self._unreachable(exc) from exc

    def watch(self, path: str, params: dict[str, Any]) -> Iterator[dict[str, Any]]:
        """The objects of an NDJSON watch stream, as they arrive."""
        try:
            with self._http.stream("GET", path, params=params, timeout=httpx.Timeout(30.0, read=None)) as resp:
                if resp.status_code >= 400:
                    resp.read()
                    raise CtlError(_api_message(resp))
                for line in resp.iter_lines():
                    if line.strip():
                        yield json.loads(line)
        except httpx.TransportError as exc:
            raise self._unreachable(exc) from exc


def _why(exc: Exception) -> str:
    """A transport failure in a few words (the OS's reason when there is one), not the exception's repr."""
    if isinstance(exc, httpx.TimeoutException):
        return "no answer in time"
    cause: BaseException | None = exc
    while cause is not None:
        if isinstance(cause, OSError) and cause.strerror:
            return cause.strerror.lower()
        cause = cause.__cause__ or cause.__context__
    return "the connection failed"


def _api_message(resp: httpx.Response) -> str:
    """The daemon's own message for a refused request, as a sentence."""
    try:
        body = resp.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and isinstance(body.get("message"), str) and body["message"]:
        return str(body["message"])
    if isinstance(body, dict) and isinstance(body.get("detail"), list):  # FastAPI's request validation
        parts = []
        for d in (d for d in body["detail"] if isinstance(d, dict)):
            where = ".".join(str(x) for x in d.get("loc", [])[1:])  # loc starts with "body" or "query"
            parts.append(f"{where}: {d.get('msg', 'invalid')}" if where else str(d.get("msg", "invalid")))
        return "the daemon refused the request: " + "; ".join(parts)
    if resp.status_code >= 500:
        return (
            f"the daemon failed on this request (HTTP {resp.status_code}); its log says why "
            "(journalctl -u miniorch, or the daemon's stderr)"
        )
    return f"the daemon refused the request (HTTP {resp.status_code}): {resp.text.strip()[:200] or 'no reason given'}"
