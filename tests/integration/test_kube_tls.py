"""The TCP listener without api.tls_cert: the daemon's own CA and certificate, kept across restarts,
trusted through `ctl config kubeconfig` by httpx, Python's ssl and the real /usr/bin/kubectl."""

from __future__ import annotations

import base64
import socket
import ssl
import stat
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from support.daemon import MINIORCH, Daemon

TOKEN = "kubeprint-token-0123456789abcdef"
KUBECTL = "/usr/bin/kubectl"

pytestmark = pytest.mark.docker


@pytest.fixture
def nodes(docker_nodes: list[Any]) -> Iterator[list[tuple[str, str]]]:
    from conftest import _remove_managed_containers

    yield [(n.name, n.url) for n in docker_nodes]
    _remove_managed_containers(docker_nodes)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _kubeconfig(d: Daemon, path: Path) -> dict[str, Any]:
    out = subprocess.run(
        [MINIORCH, "ctl", "config", "kubeconfig", "--config", str(d.config_path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    path.write_text(out.stdout)
    doc: dict[str, Any] = yaml.safe_load(out.stdout)
    return doc


def _peer_cert(port: int, ca_pem: bytes) -> bytes:
    """The DER certificate the listener presents, verified against `ca_pem` for 127.0.0.1."""
    context = ssl.create_default_context(cadata=ca_pem.decode())
    with (
        socket.create_connection(("127.0.0.1", port), timeout=10) as raw,
        context.wrap_socket(raw, server_hostname="127.0.0.1") as tls,
    ):
        der = tls.getpeercert(binary_form=True)
    assert der is not None
    return der


def test_the_self_made_ca_serves_tls_that_kubectl_and_the_kubeconfig_trust(
    nodes: list[tuple[str, str]], tmp_path: Path
) -> None:
    """First start makes ca/server cert (keys 0600); the kubeconfig's CA verifies the listener; kubectl
    reaches the daemon with the token over verified TLS (a wrong token is 401); a restart reuses the files."""
    token = tmp_path / "token"
    token.write_text(TOKEN + "\n")
    token.chmod(0o600)
    port = _free_port()
    api = {
        "socket": str(tmp_path / "d" / "run" / "miniorch.sock"),
        "tcp": f"127.0.0.1:{port}",
        "token_file": str(token),
    }
    d = Daemon(tmp_path / "d", nodes, extra={"api": api})
    tls = tmp_path / "d" / "state" / "tls"
    d.start(timeout=120)  # the shared CI machine can be slow to start a daemon
    try:
        assert sorted(p.name for p in tls.iterdir()) == ["ca.crt", "ca.key", "server.crt", "server.key"]
        assert all(stat.S_IMODE((tls / k).stat().st_mode) == 0o600 for k in ("ca.key", "server.key"))
        first = {p.name: p.read_bytes() for p in tls.iterdir()}

        config_path = tmp_path / "kubeconfig"
        doc = _kubeconfig(d, config_path)
        cluster = doc["clusters"][0]["cluster"]
        assert cluster["server"] == f"https://127.0.0.1:{port}"
        assert doc["users"][0]["user"]["token"] == TOKEN
        assert doc["contexts"][0]["context"]["namespace"] == "default" and doc["current-context"] == "miniorch"
        ca_pem = base64.b64decode(cluster["certificate-authority-data"])
        assert ca_pem == first["ca.crt"]
        assert _peer_cert(port, ca_pem) == ssl.PEM_cert_to_DER_cert(first["server.crt"].decode())

        ca_file = tmp_path / "ca.pem"
        ca_file.write_bytes(ca_pem)
        trusted = ssl.create_default_context(cafile=str(ca_file))
        ok = httpx.get(f"{cluster['server']}/version", verify=trusted, headers={"Authorization": f"Bearer {TOKEN}"})
        assert ok.status_code == 200
        with pytest.raises(httpx.ConnectError):  # not trusted without the CA
            httpx.get(f"{cluster['server']}/version")

        run = subprocess.run(
            [KUBECTL, "--kubeconfig", str(config_path), "get", "--raw", "/healthz"],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert run.returncode == 0, run.stderr
        assert '"status"' in run.stdout or "ok" in run.stdout.lower(), run.stdout
        bad = subprocess.run(
            [
                KUBECTL,
                "--kubeconfig",
                str(config_path),
                "--token",
                "wrong-token-0123456789",
                "get",
                "--raw",
                "/healthz",
            ],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert bad.returncode == 1 and "You must be logged in to the server" in bad.stderr, bad.stderr  # kubectl's 401
        reasons = [e.get("reason") for e in d.log_events() if e["event"] == "api_request_unauthorized"]
        assert reasons == ["wrong bearer token"]  # kubectl's own request carried the token: only the wrong one failed
        listening = [e for e in d.log_events() if e["event"] == "api_tcp_listening"]
        assert listening[-1]["self_made"] is True
    finally:
        assert d.stop() == 0

    d.start(timeout=120)  # the shared CI machine can be slow to start a daemon
    try:
        assert {p.name: p.read_bytes() for p in tls.iterdir()} == first  # kept, not made again
        assert _peer_cert(port, first["ca.crt"]) == ssl.PEM_cert_to_DER_cert(first["server.crt"].decode())
    finally:
        assert d.stop() == 0
