"""The dashboard's login over TCP: signed session cookies, and the gate in front of the TCP listener.

Over TCP the API wants `Authorization: Bearer`, which a browser cannot send for a page; so `/ui`
takes the same token once, in a login form, and hands back a session cookie. The cookie holds an
HMAC-signed session (expiry and nonce), never the token: a cookie that leaks (a browser profile, a
proxy's log) opens the read-only dashboard until it expires or is logged out, not the write API,
and a new token in `api.token_file` voids every session. The key derives from the token, so sessions
survive a daemon restart and work on every daemon that has the same token.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import threading
import time
from collections.abc import Callable

import structlog
from starlette.types import ASGIApp, Receive, Scope, Send

from miniorch.api import auth

log = structlog.get_logger(__name__)

PREFIX = "/ui"
COOKIE = "miniorch_session"
SESSION_SECONDS = 12 * 3600
#: Where a browser goes without a session: the form, its stylesheet. Nothing here reads the store.
OPEN_PATHS = ("/ui/login", "/ui/static/")
SCOPE_KEY = "miniorch.ui.sessions"  # set on TCP requests: the UI then asks for a session


class Sessions:
    """Issues and checks signed sessions; logout revokes one (in memory, until it expires anyway)."""

    def __init__(self, token: bytes, clock: Callable[[], float] = time.time, seconds: float = SESSION_SECONDS) -> None:
        self._token = token
        self._key = hmac.new(token, b"miniorch dashboard session v1", hashlib.sha256).digest()
        self._clock = clock
        self._seconds = seconds
        self._revoked: dict[str, float] = {}  # nonce -> expiry
        self._lock = threading.Lock()

    def token_matches(self, given: str) -> bool:
        return hmac.compare_digest(given.strip().encode(), self._token)

    def _sign(self, body: str) -> str:
        mac = hmac.new(self._key, body.encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(mac).decode().rstrip("=")

    def issue(self) -> str:
        body = f"{int(self._clock() + self._seconds)}.{secrets.token_urlsafe(16)}"
        return f"{body}.{self._sign(body)}"

    def _parts(self, value: str) -> tuple[float, str] | None:
        expiry, _, rest = value.partition(".")
        nonce, _, signature = rest.partition(".")
        if not (expiry.isdigit() and nonce and signature):
            return None
        if not hmac.compare_digest(signature, self._sign(f"{expiry}.{nonce}")):
            return None
        return float(expiry), nonce

    def valid(self, value: str) -> bool:
        parts = self._parts(value)
        if parts is None or parts[0] <= self._clock():
            return False
        with self._lock:
            return parts[1] not in self._revoked

    def revoke(self, value: str) -> None:
        parts = self._parts(value)
        if parts is None:
            return
        now = self._clock()
        with self._lock:
            self._revoked = {n: e for n, e in self._revoked.items() if e > now}
            self._revoked[parts[1]] = parts[0]


def cookie_value(scope: Scope) -> str:
    """The session cookie of a request, or ""."""
    raw: bytes = dict(scope.get("headers") or []).get(b"cookie", b"")
    header = raw.decode("latin-1")
    for part in header.split(";"):
        name, _, value = part.strip().partition("=")
        if name == COOKIE:
            return value
    return ""


def is_dashboard(path: str) -> bool:
    return path == PREFIX or path.startswith(PREFIX + "/")


class Gate:
    """The TCP listener's front: `/ui` by session cookie (or its login form), the rest by bearer token."""

    def __init__(self, app: ASGIApp, token: bytes, sessions: Sessions | None = None) -> None:
        self._app = app
        self._api = auth.TokenAuth(app, token)
        self.sessions = sessions or Sessions(token)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http" or not is_dashboard(path):
            await self._api(scope, receive, send)
            return
        scope = {**scope, SCOPE_KEY: self.sessions}
        if path.startswith(OPEN_PATHS) or self.sessions.valid(cookie_value(scope)):
            await self._app(scope, receive, send)
            return
        await _to_login(scope, send)


async def _to_login(scope: Scope, send: Send) -> None:
    """A page asked for without a session: to the login form (303); a script's fetch gets a 401."""
    wants_page = scope.get("method") in ("GET", "HEAD") and not scope.get("path", "").endswith("/follow")
    status, headers = (303, [(b"location", b"/ui/login")]) if wants_page else (401, [])
    headers += [(b"content-length", b"0"), (b"cache-control", b"no-store")]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": b""})
