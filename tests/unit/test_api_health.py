"""`/version`, `/healthz`, `/metrics`, the standby's refusal of writes, a store that is down, and
the bearer-token rules of the TCP listener: over a real SQLite store, without Docker."""

from __future__ import annotations

import json
import platform
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from support.apiapp import TestClient, harness, job_yaml

import miniorch
from miniorch import metrics as metrics_mod
from miniorch.api import auth
from miniorch.controllers.leadership import Role
from miniorch.store.errors import StoreUnavailable

TOKEN = b"0123456789abcdef0123"


def test_version_of_a_lone_daemon_and_of_a_standby(tmp_path: Path) -> None:
    with harness(tmp_path / "lone") as api:
        body = api.client.get("/version").json()
        assert {k: body[k] for k in ("version", "python")} == {
            "version": miniorch.__version__,
            "python": platform.python_version(),
        }
        assert "role" not in body
    standby = Role(False, "b", "a", "10.0.0.1:7390")
    with harness(tmp_path / "ha", role=lambda: standby) as api:
        body = api.client.get("/version").json()
        assert {k: body[k] for k in ("role", "name", "leader", "leader_address")} == {
            "role": "standby",
            "name": "b",
            "leader": "a",
            "leader_address": "10.0.0.1:7390",
        }


@pytest.mark.parametrize(
    ("role", "message"),
    [
        (Role(False, "b", "a", "10.0.0.1:7390"), "the leader is a at 10.0.0.1:7390"),
        (Role(False, "b", None, None), "the leader is not elected yet"),
    ],
)
def test_a_standby_answers_reads_and_refuses_writes(tmp_path: Path, role: Role, message: str) -> None:
    with harness(tmp_path, role=lambda: role) as api:
        assert api.client.get("/apis/batch/v1/jobs").status_code == 200
        resp = api.client.post("/apply", json={"source": "t", "text": job_yaml("pi")})
        assert resp.status_code == 503
        assert resp.json()["message"] == f"this daemon (b) is a standby and accepts no writes; {message}"
        assert api.store.get_object("Job", "default", "pi") is None
        kube = api.client.post("/apis/batch/v1/namespaces/default/jobs", json=json.loads(job_yaml("pi")))
        assert (kube.status_code, kube.json()["kind"], kube.json()["reason"]) == (503, "Status", "ServiceUnavailable")
        assert api.client.get("/apis/batch/v1/namespaces/default/jobs").status_code == 200


def test_healthz_lists_the_nodes_readiness(tmp_path: Path) -> None:
    with harness(tmp_path) as api:
        assert api.client.get("/healthz").json() == {"ok": True, "nodes": {"n1": False, "n2": False}}
        api.monitor.nodes["n2"].ready = True
        assert api.client.get("/healthz").json()["nodes"] == {"n1": False, "n2": True}


def test_metrics_when_enabled_and_a_404_sentence_when_not(tmp_path: Path) -> None:
    with harness(tmp_path) as api:
        off = api.client.get("/metrics")
        assert (off.status_code, off.json()) == (404, {"message": "metrics are not enabled in this daemon"})
        api.ctx.metrics = metrics_mod.Metrics()
        on = api.client.get("/metrics")
        assert on.status_code == 200 and "miniorch_build_info" in on.text
        assert on.headers["content-type"].startswith("text/plain")


def test_a_store_that_is_down_is_503_with_what_to_do(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with harness(tmp_path) as api:

        def down(*_: Any, **__: Any) -> Any:
            raise StoreUnavailable("the state database is unreachable")

        monkeypatch.setattr(api.store, "list_objects", down)
        resp = api.client.get("/apis/batch/v1/jobs")
        assert (resp.status_code, resp.json()["kind"]) == (503, "Status")
        assert resp.json()["message"] == (
            "the state database is unreachable; the daemon keeps the containers running and retries; try again shortly"
        )


def _with_token(tmp_path: Path) -> Callable[[dict[str, str]], Any]:
    def call(headers: dict[str, str]) -> Any:
        with harness(tmp_path) as api, TestClient(auth.TokenAuth(api.app, TOKEN)) as client:
            return client.get("/version", headers=headers)

    return call


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ({}, 401),
        ({"Authorization": "Bearer wrong-token-wrong-token"}, 401),
        ({"Authorization": f"Basic {TOKEN.decode()}"}, 401),
        ({"Authorization": f"Bearer {TOKEN.decode()}"}, 200),
        ({"Authorization": f"bearer {TOKEN.decode()}"}, 200),
    ],
)
def test_the_tcp_listener_needs_the_bearer_token(tmp_path: Path, headers: dict[str, str], status: int) -> None:
    resp = _with_token(tmp_path)(headers)
    assert resp.status_code == status
    if status == 401:
        body = resp.json()  # a Kubernetes Status (kubectl), whose message ctl prints too
        assert body["message"] == "Unauthorized: a valid bearer token is required (ctl --token-file FILE)"
        assert (body["kind"], body["reason"], body["code"]) == ("Status", "Unauthorized", 401)
        assert resp.headers["www-authenticate"] == 'Bearer realm="miniorch"'


@pytest.mark.parametrize(
    ("content", "mode", "problem"),
    [
        (TOKEN, 0o644, "is readable by everyone; fix it with 'chmod 600"),
        (b"short", 0o600, "holds a token shorter than 16 characters"),
        (None, 0o600, "cannot read api.token_file"),
    ],
)
def test_a_token_file_that_cannot_be_used_is_refused(
    tmp_path: Path, content: bytes | None, mode: int, problem: str
) -> None:
    path = tmp_path / "token"
    if content is not None:
        path.write_bytes(content + b"\n")
        path.chmod(mode)
    with pytest.raises(auth.TokenError, match=problem.replace("(", r"\(")):
        auth.read_token(path)


def test_a_good_token_file_is_read_without_its_newline(tmp_path: Path) -> None:
    path = tmp_path / "token"
    path.write_bytes(TOKEN + b"\n")
    path.chmod(0o600)
    assert auth.read_token(path) == TOKEN
