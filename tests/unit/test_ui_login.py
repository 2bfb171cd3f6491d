"""The dashboard over TCP: the gate, the login form and its signed session cookie (never the token)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from support.apiapp import ApiHarness, TestClient, harness

from miniorch import config
from miniorch.api.app import create_app
from miniorch.controllers import leadership
from miniorch.ui import session

TOKEN = b"0123456789abcdef-the-token"


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def api(tmp_path: Path) -> Iterator[ApiHarness]:
    with harness(tmp_path) as h:
        yield h


def _client(api: ApiHarness, base_url: str = "http://testserver", gate: session.Gate | None = None) -> TestClient:
    return TestClient(gate or session.Gate(api.app, TOKEN), base_url=base_url)


def test_a_session_is_valid_until_it_expires_and_only_under_its_token() -> None:
    clock = Clock()
    sessions = session.Sessions(TOKEN, clock, seconds=60)
    value = sessions.issue()
    assert sessions.valid(value)
    assert TOKEN.decode() not in value
    assert not session.Sessions(b"another-token-of-16+", clock).valid(value), "a new token voids every session"
    expiry, nonce, signature = value.split(".")
    assert not sessions.valid(f"{int(expiry) + 3600}.{nonce}.{signature}"), "a longer expiry breaks the signature"
    assert not sessions.valid(f"{expiry}.{nonce}.{signature[:-2]}")
    for bad in ("", "x", "..", f"{expiry}.{nonce}", "abc.def.ghi"):
        assert not sessions.valid(bad), bad
    clock.now += 61
    assert not sessions.valid(value)


def test_logout_revokes_that_session_only() -> None:
    sessions = session.Sessions(TOKEN, Clock())
    one, two = sessions.issue(), sessions.issue()
    sessions.revoke(one)
    assert not sessions.valid(one) and sessions.valid(two)


def test_the_api_still_wants_the_bearer_token_and_pages_the_login(api: ApiHarness) -> None:
    client = _client(api)
    assert client.get("/api/v1/nodes").status_code == 401
    assert client.get("/api/v1/nodes", headers={"Authorization": f"Bearer {TOKEN.decode()}"}).status_code == 200
    for path in ("/ui/", "/ui/k/jobs", "/ui/pods/default/x"):
        resp = client.get(path, follow_redirects=False)
        assert (resp.status_code, resp.headers["location"]) == (303, "/ui/login"), path
    assert client.get("/ui/pods/default/x/log/follow").status_code == 401, "a script's fetch is refused"
    assert client.get("/ui/static/ui.css").status_code == 200
    assert (
        client.get("/ui/", headers={"Authorization": f"Bearer {TOKEN.decode()}"}, follow_redirects=False).status_code
        == 303
    ), "the dashboard takes its session cookie, not the API's header"


def test_a_wrong_token_is_refused_with_the_form(api: ApiHarness) -> None:
    client = _client(api)
    resp = client.post("/ui/login", data={"token": "not-the-token"}, follow_redirects=False)
    assert resp.status_code == 401 and "That is not the daemon&#39;s token." in resp.text
    assert "set-cookie" not in resp.headers
    assert client.get("/ui/", follow_redirects=False).status_code == 303


def test_the_right_token_gives_a_signed_httponly_strict_cookie(api: ApiHarness) -> None:
    client = _client(api)
    form = client.get("/ui/login")
    assert form.status_code == 200 and 'type="password"' in form.text and 'method="post"' in form.text
    resp = client.post("/ui/login", data={"token": TOKEN.decode()}, follow_redirects=False)
    assert (resp.status_code, resp.headers["location"]) == (303, "/ui/")
    cookie = resp.headers["set-cookie"]
    assert cookie.startswith(f"{session.COOKIE}=") and TOKEN.decode() not in cookie
    flags = {f.strip().lower() for f in cookie.split(";")[1:]}
    assert {"httponly", "path=/ui", "samesite=strict"} <= flags and "secure" not in flags
    page = client.get("/ui/")
    assert page.status_code == 200 and "Log out" in page.text and TOKEN.decode() not in page.text
    client.post("/ui/logout", follow_redirects=False)
    assert client.get("/ui/", follow_redirects=False).status_code == 303


def test_the_cookie_is_secure_over_tls(api: ApiHarness) -> None:
    resp = _client(api, "https://testserver").post("/ui/login", data={"token": TOKEN.decode()}, follow_redirects=False)
    assert "secure" in {f.strip().lower() for f in resp.headers["set-cookie"].split(";")}


def test_a_logged_out_cookie_stays_refused(api: ApiHarness) -> None:
    """Logout revokes the session on the server: a copy of the cookie kept elsewhere is refused too."""
    gate = session.Gate(api.app, TOKEN)
    client = _client(api, gate=gate)
    client.post("/ui/login", data={"token": TOKEN.decode()})
    value = client.cookies.get(session.COOKIE)
    assert value
    client.post("/ui/logout")
    other = _client(api, gate=gate)
    other.cookies.set(session.COOKIE, value, path="/ui")
    assert other.get("/ui/", follow_redirects=False).status_code == 303


def test_a_standby_serves_the_login_but_still_refuses_api_writes(tmp_path: Path) -> None:
    """The login and logout are POSTs that write nothing: a standby answers them (DESIGN 8 refuses writes)."""
    standby = leadership.Role(False, "b", "a", "host-a:7390")
    with harness(tmp_path, role=lambda: standby) as api:
        client = _client(api)
        resp = client.post("/ui/login", data={"token": TOKEN.decode()}, follow_redirects=False)
        assert resp.status_code == 303 and session.COOKIE in resp.headers["set-cookie"]
        assert client.get("/ui/").status_code == 200
        refused = client.post(
            "/apply", json={"source": "t", "text": ""}, headers={"Authorization": f"Bearer {TOKEN.decode()}"}
        )
        assert refused.status_code == 503 and "standby" in refused.json()["message"]


def test_the_dashboard_can_be_turned_off(tmp_path: Path) -> None:
    """`dashboard.enabled: false`: no /ui at all (the config key parses; the app mounts nothing)."""
    cfg = config.Config.model_validate({"dashboard": {"enabled": False}})
    assert cfg.dashboard.enabled is False and config.Config().dashboard.enabled is True
    with harness(tmp_path) as api:
        off = TestClient(create_app(api.ctx, dashboard=cfg.dashboard.enabled))
        assert off.get("/ui/").status_code == 404
        assert off.get("/version").status_code == 200
