"""The daemon as a service: sd_notify, the locked-down API, metrics, event streaming and policy at apply time."""

from __future__ import annotations

import contextlib
import grp
import os
import signal
import socket
import ssl
import stat
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from support.daemon import MINIORCH, Daemon, job_yaml

TOKEN = "integration-token-0123456789abcdef"


@pytest.fixture
def nodes(docker_nodes: list[Any]) -> Iterator[list[tuple[str, str]]]:
    """(name, url) of the test nodes; managed containers are removed afterwards."""
    from conftest import _remove_managed_containers

    yield [(n.name, n.url) for n in docker_nodes]
    _remove_managed_containers(docker_nodes)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class NotifyListener:
    """A datagram socket standing in for systemd's $NOTIFY_SOCKET, read by a thread as systemd does."""

    def __init__(self, address: str) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind("\0" + address[1:] if address.startswith("@") else address)
        self.sock.settimeout(0.2)
        self.messages: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        while not self._stop.is_set():
            with contextlib.suppress(TimeoutError):
                self.messages.append(self.sock.recv(4096).decode())

    def wait_for(self, message: str, timeout: float = 20) -> None:
        deadline = time.monotonic() + timeout
        while message not in self.messages:
            if time.monotonic() > deadline:
                raise AssertionError(f"no {message!r} in {self.messages}")
            time.sleep(0.02)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self.sock.close()


@pytest.mark.parametrize("abstract", [False, True], ids=["path-socket", "abstract-socket"])
def test_sd_notify_ready_reload_watchdog_and_stopping(
    nodes: list[tuple[str, str]], tmp_path: Path, abstract: bool
) -> None:
    """READY=1 when serving; SIGHUP: RELOADING=1 then READY=1; WATCHDOG=1 pings; SIGTERM: STOPPING=1, exit 0, workload kept."""
    address = f"@miniorch-notify-{os.getpid()}-{tmp_path.name}" if abstract else str(tmp_path / "notify.sock")
    listener = NotifyListener(address)
    d = Daemon(tmp_path / "d", nodes)
    try:
        d.start(env={"NOTIFY_SOCKET": address, "WATCHDOG_USEC": "400000"})
        listener.wait_for("READY=1")
        d.apply(job_yaml("sleeper", "sleep 300"))
        pod = d.wait_for(
            lambda: [p for p in d.pods("sleeper") if p["status"]["phase"] == "Running"], what="running pod"
        )
        listener.wait_for("WATCHDOG=1")
        listener.messages.clear()
        assert d.proc is not None
        d.proc.send_signal(signal.SIGHUP)
        listener.wait_for("READY=1")
        assert listener.messages.index("RELOADING=1") < listener.messages.index("READY=1")
        assert d.stop() == 0
        listener.wait_for("STOPPING=1", timeout=5)
        node = dict(nodes)[pod[0]["spec"]["nodeName"]]
        out = subprocess.run(
            ["docker", "-H", node, "inspect", "-f", "{{.State.Running}}", pod[0]["metadata"]["name"]],
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert out.stdout.strip() == "true", out.stderr
    finally:
        listener.close()
        if d.proc and d.proc.poll() is None:
            d.stop()


def test_socket_is_0660_with_the_configured_group_and_a_world_writable_folder_is_refused(
    nodes: list[tuple[str, str]], tmp_path: Path
) -> None:
    """The socket gets mode 0660 and api.socket_group; a world-writable, non-sticky folder stops the daemon."""
    group = grp.getgrgid(os.getgid() if os.getgid() else 1).gr_name  # any group other than root's own
    d = Daemon(
        tmp_path / "ok",
        nodes,
        extra={"api": {"socket": str(tmp_path / "ok" / "run" / "m.sock"), "socket_group": group}},
    )
    d.socket = tmp_path / "ok" / "run" / "m.sock"
    d.start()
    st = os.stat(d.socket)
    assert stat.S_IMODE(st.st_mode) == 0o660 and grp.getgrgid(st.st_gid).gr_name == group
    assert d.stop() == 0

    open_dir = tmp_path / "open"
    open_dir.mkdir()
    open_dir.chmod(0o777)
    bad = Daemon(tmp_path / "bad", nodes, extra={"api": {"socket": str(open_dir / "m.sock")}})
    result = subprocess.run(
        [MINIORCH, "daemon", "--config", str(bad.config_path)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 2  # a config error, found before any node is dialled
    assert "world-writable and not sticky" in result.stderr and f"chmod o-w {open_dir}" in result.stderr


def _tcp_daemon(nodes: list[tuple[str, str]], tmp_path: Path, tls: dict[str, str] | None = None) -> tuple[Daemon, str]:
    token = tmp_path / "token"
    token.write_text(TOKEN + "\n")
    token.chmod(0o600)
    port = _free_port()
    api = {"tcp": f"127.0.0.1:{port}", "token_file": str(token), **(tls or {})}
    d = Daemon(tmp_path / "d", nodes, extra={"api": {"socket": str(tmp_path / "d" / "run" / "miniorch.sock"), **api}})
    d.start()
    return d, f"https://127.0.0.1:{port}"  # always TLS: the configured certificate, else the daemon's own CA


def test_tcp_listener_needs_the_bearer_token(nodes: list[tuple[str, str]], tmp_path: Path) -> None:
    """Over TCP: no token 401, wrong token 401 (both logged), right token 200; ctl --server --token-file works."""
    d, url = _tcp_daemon(nodes, tmp_path)
    ca = str(tmp_path / "d" / "state" / "tls" / "ca.crt")  # no tls_cert: the daemon's own CA signed it
    verify = ssl.create_default_context(cafile=ca)
    try:
        assert httpx.get(f"{url}/version", verify=verify).status_code == 401
        assert httpx.get(f"{url}/version", verify=verify, headers={"Authorization": "Bearer wrong"}).status_code == 401
        ok = httpx.get(f"{url}/version", verify=verify, headers={"Authorization": f"Bearer {TOKEN}"})
        assert ok.status_code == 200 and ok.json()["version"]
        denied = [e for e in d.log_events() if e["event"] == "api_request_unauthorized"]
        assert [e["reason"] for e in denied] == ["no bearer token", "wrong bearer token"]
        token_file = str(tmp_path / "token")
        out = subprocess.run(
            [
                MINIORCH,
                "ctl",
                "--server",
                url,
                "--token-file",
                token_file,
                "--certificate-authority",
                ca,
                "get",
                "nodes",
            ],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert out.returncode == 0 and "node0" in out.stdout, out.stderr
        wrong = tmp_path / "wrong"
        wrong.write_text("nope")
        out = subprocess.run(
            [MINIORCH, "ctl", "--server", url, "--token-file", str(wrong), "--certificate-authority", ca, "version"],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert out.returncode == 1 and "token" in out.stderr and "Traceback" not in out.stderr
    finally:
        d.stop()


def test_tcp_listener_serves_tls_with_the_configured_certificate(nodes: list[tuple[str, str]], tmp_path: Path) -> None:
    """With api.tls_cert/tls_key the listener speaks https; ctl checks it against --certificate-authority."""
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )
    d, url = _tcp_daemon(nodes, tmp_path, {"tls_cert": str(cert), "tls_key": str(key)})
    try:
        assert httpx.get(f"{url}/version", verify=ssl.create_default_context(cafile=str(cert))).status_code == 401
        ok = httpx.get(
            f"{url}/version",
            verify=ssl.create_default_context(cafile=str(cert)),
            headers={"Authorization": f"Bearer {TOKEN}"},
        )
        assert ok.status_code == 200
        out = subprocess.run(
            [
                MINIORCH,
                "ctl",
                "--server",
                url,
                "--token-file",
                str(tmp_path / "token"),
                "--certificate-authority",
                str(cert),
                "version",
            ],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert out.returncode == 0 and "Server Version" in out.stdout, out.stderr
    finally:
        d.stop()


def test_metrics_count_pods_jobs_nodes_and_passes(daemon: Daemon) -> None:
    """After a 2-completion Job, /metrics shows 2 pods started and succeeded, the Job complete, nodes Ready, passes timed."""
    daemon.apply(job_yaml("counted", "true", completions=2, parallelism=2))
    daemon.wait_job("counted")
    text = daemon.api("GET", "/metrics")

    def value(line_start: str) -> float:
        line = next(x for x in text.splitlines() if x.startswith(line_start + " "))
        return float(line.rsplit(" ", 1)[1])

    daemon.wait_for(lambda: "miniorch_pods_succeeded_total" in daemon.api("GET", "/metrics"), what="metrics")
    text = daemon.api("GET", "/metrics")
    assert value('miniorch_pods_started_total{owner_kind="Job"}') == 2
    assert value('miniorch_pods_succeeded_total{owner_kind="Job"}') == 2
    assert value('miniorch_objects{kind="Job",state="complete"}') == 1
    assert value('miniorch_node_ready{node="node0"}') == 1
    assert value("miniorch_reconcile_pass_duration_seconds_count") > 0
    assert "miniorch_cron_fire_delay_seconds_bucket" in text


def test_get_events_watch_prints_events_as_they_happen(daemon: Daemon) -> None:
    """`ctl get events -w` prints the header once, then a row for each event as it is recorded."""
    env = {**os.environ, "MINIORCH_SOCKET": str(daemon.socket)}
    proc = subprocess.Popen([MINIORCH, "ctl", "get", "events", "-w"], stdout=subprocess.PIPE, text=True, env=env)
    lines: list[str] = []

    def read() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        time.sleep(1)  # streaming before the Job exists
        daemon.apply(job_yaml("watched", "true"))
        daemon.wait_for(lambda: any("Completed" in x for x in lines), timeout=30, what="a Completed row")
        assert any("SuccessfulCreate" in x and "job/watched" in x for x in lines)
        assert sum(1 for x in lines if x.startswith("LAST SEEN")) == 1
    finally:
        proc.terminate()
        proc.wait(10)
        reader.join(5)
        assert proc.stdout is not None
        proc.stdout.close()


def _policy_daemon(nodes: list[tuple[str, str]], tmp_path: Path) -> tuple[Daemon, Path]:
    allowed = tmp_path / "allowed"
    (allowed / "data").mkdir(parents=True)
    (allowed / "link-out").symlink_to("/etc")
    d = Daemon(tmp_path / "d", nodes, extra={"policy": {"allowed_host_paths": [str(allowed)]}})
    d.start()
    return d, allowed


def _host_path_job(name: str, path: str) -> str:
    return job_yaml(
        name,
        "ls /v",
        container={"volumeMounts": [{"name": "v", "mountPath": "/v"}]},
        pod_spec={"volumes": [{"name": "v", "hostPath": {"path": path}}]},
    )


def test_apply_refuses_policy_violations_naming_field_and_key(nodes: list[tuple[str, str]], tmp_path: Path) -> None:
    """privileged, hostNetwork, hostPath outside the prefixes (also via '..' or a symlink), huge files, long names, 1001 env."""
    d, allowed = _policy_daemon(nodes, tmp_path)
    try:
        cases = {
            "privileged": (
                job_yaml("priv", "true", container={"securityContext": {"privileged": True}}),
                ["spec.template.spec.containers[0].securityContext.privileged", "policy.allow_privileged"],
            ),
            "hostNetwork": (
                job_yaml("hostnet", "true", pod_spec={"hostNetwork": True}),
                ["spec.template.spec.hostNetwork", "policy.allow_host_network"],
            ),
            "dotdot": (
                _host_path_job("dotdot", f"{allowed}/data/../../../etc"),
                ["spec.template.spec.volumes[0].hostPath.path", "policy.allowed_host_paths"],
            ),
            "symlink": (
                _host_path_job("symlink", f"{allowed}/link-out"),
                ["spec.template.spec.volumes[0].hostPath.path", "policy.allowed_host_paths"],
            ),
            "name": (job_yaml("n" * 64, "true"), ["metadata.name", "63"]),
            "env": (
                job_yaml("envs", "true", container={"env": [{"name": f"V{i}", "value": "x"} for i in range(1001)]}),
                ["env", "1000"],
            ),
            "size": (job_yaml("big", "true") + "#" * (1024 * 1024 + 1), ["1 MiB"]),
        }
        for case, (text, needles) in cases.items():
            path = tmp_path / f"{case}.yaml"
            path.write_text(text)
            result = d.ctl("apply", "-f", str(path))
            assert result.returncode == 1, (case, result.stdout)
            for needle in needles:
                assert needle in result.stderr, (case, needle, result.stderr)
        assert d.api("GET", "/apis/batch/v1/jobs")["items"] == []
        ok = d.apply(_host_path_job("inside", f"{allowed}/data/../data"))
        assert "job.batch/inside created" in ok.stdout
        d.wait_job("inside")
    finally:
        d.stop()
