"""Bearer-token protection of the TCP listener (the unix socket relies on file modes).

`TokenAuth` wraps the API app as ASGI middleware: a request without the token,
or with a wrong one, gets 401 and a log line; tokens are compared in constant
time. `read_token` loads the token file and refuses one readable by everyone.
"""

from __future__ import annotations

import hmac
import json
import stat
from pathlib import Path

import structlog
from starlette.types import ASGIApp, Receive, Scope, Send

from miniorch.errors import MiniorchError

log = structlog.get_logger(__name__)


class TokenError(MiniorchError):
    """The token file cannot be used; the message says how to fix it."""


def read_token(path: Path) -> bytes:
    """The bearer token from `api.token_file` (surrounding whitespace ignored)."""
    try:
        mode = path.stat().st_mode
        token = path.read_bytes().strip()
    except OSError as exc:
        raise TokenError(f"cannot read api.token_file {path}: {exc.strerror}") from exc
    if mode & stat.S_IROTH:
        raise TokenError(f"api.token_file {path} is readable by everyone; fix it with 'chmod 600 {path}'")
    if len(token) < 16:
        raise TokenError(
            f"api.token_file {path} holds a token shorter than 16 characters; "
            f"make one with 'openssl rand -hex 32 > {path}'"
        )
    return token


class TokenAuth:
    """Let a request through only with `Authorization: Bearer <token>`."""

    def __init__(self, app: ASGIApp, token: bytes) -> None:
        self._app = app
        self._token = token

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        header = dict(scope.get("headers") or []).get(b"authorization", b"")
        scheme, _, given = header.partition(b" ")
        if scheme.lower() == b"bearer" and hmac.compare_digest(given.strip(), self._token):
            await self._app(scope, receive, send)
            return
        client = scope.get("client")
        log.warning(
            "api_request_unauthorized",
            client=f"{client[0]}:{client[1]}" if client else None,
            method=scope.get("method"),
            path=scope.get("path"),
            reason="no bearer token" if not header else "wrong bearer token",
        )
        # A Kubernetes Status (kubectl prints its message); `message` is what ctl reads too.
        body = json.dumps(
            {
                "kind": "Status",
                "apiVersion": "v1",
                "metadata": {},
                "status": "Failure",
                "message": "Unauthorized: a valid bearer token is required (ctl --token-file FILE)",
                "reason": "Unauthorized",
                "code": 401,
            }
        ).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 401,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"www-authenticate", b'Bearer realm="miniorch"'),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})
