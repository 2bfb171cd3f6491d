"""Service plumbing without Docker: sd_notify, the systemd unit, metrics, token auth, config and policy limits."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from structlog.testing import capture_logs

from miniorch import config as config_mod
from miniorch import metrics as metrics_mod
from miniorch import notify
from miniorch.api import auth
from miniorch.config import PolicyConfig
from miniorch.reconcile import podspec
from miniorch.spec import loader
from miniorch.spec.errors import ManifestInvalid

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "s3cret-token-0123456789abcdef"


# -- sd_notify ---------------------------------------------------------------
@pytest.mark.parametrize("abstract", [False, True], ids=["path", "abstract"])
def test_notify_sends_one_datagram_to_a_path_or_abstract_socket(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, abstract: bool
) -> None:
    """notify() delivers its message to $NOTIFY_SOCKET, a file path or an '@' abstract name."""
    name = f"@miniorch-test-{os.getpid()}" if abstract else str(tmp_path / "notify.sock")
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind("\0" + name[1:] if abstract else name)
        monkeypatch.setenv("NOTIFY_SOCKET", name)
        assert notify.notify("READY=1")
        assert sock.recv(64) == b"READY=1"


def test_notify_is_a_no_op_outside_systemd(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without $NOTIFY_SOCKET nothing is sent and nothing fails."""
    monkeypatch.delenv("NOTIFY_SOCKET", raising=False)
    assert notify.notify("READY=1") is False


def test_watchdog_interval_is_half_of_watchdog_usec_for_this_process(monkeypatch: pytest.MonkeyPatch) -> None:
    """WATCHDOG_USEC=30s gives a ping every 15 s; a WATCHDOG_PID of another process disables it."""
    monkeypatch.delenv("WATCHDOG_PID", raising=False)
    monkeypatch.delenv("WATCHDOG_USEC", raising=False)
    assert notify.watchdog_interval() is None
    monkeypatch.setenv("WATCHDOG_USEC", "30000000")
    assert notify.watchdog_interval() == 15.0
    monkeypatch.setenv("WATCHDOG_PID", str(os.getpid()))
    assert notify.watchdog_interval() == 15.0
    monkeypatch.setenv("WATCHDOG_PID", "1")
    assert notify.watchdog_interval() is None


def _unit_lines(key: str) -> list[str]:
    text = (ROOT / "systemd" / "miniorch.service").read_text()
    return [line.split("=", 1)[1] for line in text.splitlines() if line.startswith(key + "=")]


def test_systemd_unit_passes_systemd_analyze_verify_with_the_shipped_man_page(tmp_path: Path) -> None:
    """systemd-analyze verify (which runs `man` for Documentation=) accepts the unit once systemd/miniorch.8 is installed."""
    analyze = shutil.which("systemd-analyze")
    assert analyze, "systemd-analyze is missing: apt-get install systemd"
    exe = Path(sys.executable).with_name("miniorch")
    text = (ROOT / "systemd" / "miniorch.service").read_text()
    assert "Type=notify" in text and "WatchdogSec=" in text
    unit = tmp_path / "miniorch.service"
    unit.write_text(text.replace("/opt/miniorch/bin/miniorch", str(exe)))
    (man8 := tmp_path / "man" / "man8").mkdir(parents=True)
    assert _unit_lines("Documentation") == ["man:miniorch(8)"]
    shutil.copy(ROOT / "systemd" / "miniorch.8", man8 / "miniorch.8")  # where the README's install step puts it
    env = {**os.environ, "MANPATH": str(tmp_path / "man")}
    result = subprocess.run(
        [analyze, "verify", str(unit)], capture_output=True, text=True, timeout=60, cwd=tmp_path, env=env
    )
    assert result.returncode == 0, result.stderr
    assert "miniorch.service" not in result.stderr, result.stderr
    shown = subprocess.run(["man", "miniorch"], capture_output=True, text=True, timeout=60, env=env)
    assert "--check-config" in shown.stdout and "RestartPreventExitStatus=2" in shown.stdout, shown.stderr


def test_a_config_error_does_not_restart_loop_and_reload_checks_the_config_first() -> None:
    """Exit 2 (config error) prevents a restart; ExecReload runs --check-config on ExecStart's file before SIGHUP."""
    assert _unit_lines("RestartPreventExitStatus") == ["2"]
    (start,) = _unit_lines("ExecStart")
    check, hup = _unit_lines("ExecReload")
    assert check == start.replace(" daemon ", " daemon --check-config ")
    assert hup == "/bin/kill -HUP $MAINPID"


def test_check_config_of_the_reload_line_exits_2_on_a_bad_file_and_0_on_a_good_one(tmp_path: Path) -> None:
    """The unit's ExecReload check, run on a bad edit, exits 2 naming the key; on the shipped config it exits 0."""
    (start,) = _unit_lines("ExecStart")
    exe = str(Path(sys.executable).with_name("miniorch"))
    args = start.replace("/opt/miniorch/bin/miniorch", exe).split()
    bad = tmp_path / "miniorch.yaml"
    bad.write_text("nodes:\n  - name: local\n    adress: unix:///var/run/docker.sock\n")
    cmd = [args[0], "daemon", "--check-config", "--config", str(bad)]
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    assert result.returncode == 2, result
    assert (
        result.stderr
        == f"error: config file {bad}: nodes[0].adress: unknown key (see the config reference in README.md)\n"
    )
    good = tmp_path / "good.yaml"
    good.write_text(f"state_dir: {tmp_path}/state\napi: {{socket: {tmp_path}/run/m.sock}}\n")
    result = subprocess.run(cmd[:-1] + [str(good)], capture_output=True, text=True, timeout=60)
    assert (result.returncode, result.stdout) == (0, f"config OK: {good}\n"), result.stderr


# -- metrics -----------------------------------------------------------------
def test_metrics_render_counters_histograms_and_scrape_time_state() -> None:
    """Pod counters by owner kind, both histograms, object states, node readiness and Docker errors render."""
    m = metrics_mod.Metrics()
    m.pod_started("Job")
    m.pod_finished("Job", "Succeeded", 0)
    m.pod_finished("Job", "Failed", 2)
    m.pod_finished("Job", "Running", 1)  # OnFailure: a failed run restarted in place
    m.cron_fire_delay.observe(0.3)
    with m.reconcile_duration.time():
        pass
    m.watch(
        objects=lambda: [("Job", "complete"), ("Job", "active"), ("CronJob", "suspended")],
        nodes=lambda: {"a": True, "b": False},
        docker_errors=lambda: {("b", "NodeUnavailable"): 3},
    )
    text = m.render().decode()
    for line in (
        'miniorch_pods_started_total{owner_kind="Job"} 1.0',
        'miniorch_pods_succeeded_total{owner_kind="Job"} 1.0',
        'miniorch_pods_failed_total{owner_kind="Job"} 2.0',
        "miniorch_cron_fire_delay_seconds_count 1.0",
        "miniorch_reconcile_pass_duration_seconds_count 1.0",
        'miniorch_objects{kind="Job",state="complete"} 1.0',
        'miniorch_objects{kind="Job",state="failed"} 0.0',
        'miniorch_objects{kind="CronJob",state="suspended"} 1.0',
        'miniorch_node_ready{node="a"} 1.0',
        'miniorch_node_ready{node="b"} 0.0',
        'miniorch_docker_api_errors_total{error="NodeUnavailable",node="b"} 3.0',
    ):
        assert line in text, line


def test_each_metrics_object_has_its_own_registry() -> None:
    """Two Metrics never share counts (no global registry)."""
    a, b = metrics_mod.Metrics(), metrics_mod.Metrics()
    a.pod_started("Job")
    assert 'miniorch_pods_started_total{owner_kind="Job"} 1.0' in a.render().decode()
    assert 'miniorch_pods_started_total{owner_kind="Job"} 0.0' in b.render().decode()


def test_fresh_metrics_have_every_counter_at_zero_build_info_and_process_collectors() -> None:
    """Before anything happens: pod counters per owner kind and Docker errors per node and kind at 0,
    miniorch_build_info with the version and Python, and the process, platform and GC collectors."""
    import platform

    import miniorch

    m = metrics_mod.Metrics()
    m.watch(
        objects=lambda: [], nodes=lambda: {"a": True}, docker_errors=lambda: {}, docker_error_kinds=["NodeUnavailable"]
    )
    text = m.render().decode()
    for kind in ("Job", "DaemonSet"):
        for counter in ("started", "succeeded", "failed"):
            assert f'miniorch_pods_{counter}_total{{owner_kind="{kind}"}} 0.0' in text
    assert 'miniorch_docker_api_errors_total{error="NodeUnavailable",node="a"} 0.0' in text
    build = f'miniorch_build_info{{python="{platform.python_version()}",version="{miniorch.__version__}"}} 1.0'
    assert build in text
    for family in (
        "process_resident_memory_bytes",
        "process_cpu_seconds_total",
        "python_info",
        "python_gc_collections_total",
    ):
        assert f"\n{family}" in text, family


@pytest.mark.parametrize(
    ("kind", "manifest", "conditions", "state"),
    [
        ("Job", {}, [{"type": "Complete", "status": "True"}], "complete"),
        ("Job", {}, [{"type": "Failed", "status": "True"}], "failed"),
        ("Job", {"spec": {"suspend": True}}, [], "suspended"),
        ("Job", {}, [{"type": "Complete", "status": "False"}], "active"),
        ("CronJob", {"spec": {"suspend": True}}, [], "suspended"),
        ("CronJob", {"spec": {}}, [], "active"),
    ],
)
def test_object_state_follows_conditions_and_suspend(
    kind: str, manifest: dict[str, object], conditions: list[dict[str, str]], state: str
) -> None:
    """A Job is complete/failed by its True condition, suspended by spec.suspend, else active."""
    assert metrics_mod.object_state(kind, manifest, {"conditions": conditions}) == state


# -- the TCP listener's token --------------------------------------------------
def test_token_auth_answers_401_without_or_with_a_wrong_token_and_logs_it() -> None:
    """No token: 401; wrong token: 401; both logged as api_request_unauthorized with the reason."""
    import asyncio

    async def call(headers: dict[str, str]) -> httpx.Response:
        app = FastAPI()

        @app.get("/version")
        def version() -> dict[str, str]:
            return {"version": "x"}

        transport = httpx.ASGITransport(auth.TokenAuth(app, TOKEN.encode()))
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
            return await c.get("/version", headers=headers)

    with capture_logs() as logs:
        assert asyncio.run(call({})).status_code == 401
        assert asyncio.run(call({"Authorization": "Bearer nope"})).status_code == 401
        right = asyncio.run(call({"Authorization": f"Bearer {TOKEN}"}))
    assert right.status_code == 200 and right.json() == {"version": "x"}
    reasons = [e["reason"] for e in logs if e["event"] == "api_request_unauthorized"]
    assert reasons == ["no bearer token", "wrong bearer token"]


def test_token_file_readable_by_everyone_or_too_short_is_refused(tmp_path: Path) -> None:
    """read_token refuses a world-readable file and a short token, saying how to fix it."""
    path = tmp_path / "token"
    path.write_text(TOKEN + "\n")
    path.chmod(0o644)
    with pytest.raises(auth.TokenError, match="chmod 600"):
        auth.read_token(path)
    path.chmod(0o600)
    assert auth.read_token(path) == TOKEN.encode()
    path.write_text("short")
    with pytest.raises(auth.TokenError, match="openssl rand"):
        auth.read_token(path)


@pytest.mark.parametrize(
    ("api", "message"),
    [
        ({"tcp": "127.0.0.1:7390"}, "api.token_file is required"),
        ({"tcp": "7390", "token_file": "/t"}, "HOST:PORT"),
        ({"tls_cert": "/c"}, "go together"),
    ],
)
def test_unsafe_tcp_listener_configs_are_refused(tmp_path: Path, api: dict[str, str], message: str) -> None:
    """TCP without a token, a bad address or half a TLS pair stop the daemon."""
    import yaml

    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump({"api": api}))
    with pytest.raises(config_mod.ConfigError, match=message):
        config_mod.load(path)


def test_loopback_and_tls_listeners_are_accepted(tmp_path: Path) -> None:
    """Any address is accepted: with tls_cert/tls_key, or without them (the daemon's own CA, tlsca)."""
    for api in (
        {"tcp": "127.0.0.1:7390", "token_file": "/t"},
        {"tcp": "[::1]:7390", "token_file": "/t"},
        {"tcp": "0.0.0.0:7390", "token_file": "/t"},
        {"tcp": "edge.example:7390", "token_file": "/t"},
        {"tcp": "0.0.0.0:7390", "token_file": "/t", "tls_cert": "/c", "tls_key": "/k"},
    ):
        assert config_mod.ApiConfig.model_validate(api).tcp == api["tcp"]


# -- policy ------------------------------------------------------------------
def test_host_path_prefixes_match_whole_components_after_normalising_dotdot(tmp_path: Path) -> None:
    """'/data' allows /data and /data/x, never /database, /data/../etc or a relative path."""
    allowed = ["/data"]

    def same(p: str) -> str:
        return p

    assert podspec.host_path_allowed("/data", allowed, same)
    assert podspec.host_path_allowed("/data/x/./y", allowed, same)
    assert not podspec.host_path_allowed("/database", allowed, same)
    assert not podspec.host_path_allowed("/data/../etc", allowed, same)
    assert not podspec.host_path_allowed("/data/x/../../etc/shadow", allowed, same)
    assert not podspec.host_path_allowed("data/x", allowed, same)


def test_host_path_through_a_symlink_out_of_the_prefix_is_refused(tmp_path: Path) -> None:
    """A symlink inside an allowed folder that points outside it does not open the outside."""
    allowed_dir = tmp_path / "allowed"
    (allowed_dir / "real").mkdir(parents=True)
    (allowed_dir / "escape").symlink_to("/etc")
    (allowed_dir / "inside").symlink_to(allowed_dir / "real")
    allowed = [str(allowed_dir)]
    assert podspec.host_path_allowed(str(allowed_dir / "real"), allowed)
    assert podspec.host_path_allowed(str(allowed_dir / "inside"), allowed)
    assert not podspec.host_path_allowed(str(allowed_dir / "escape"), allowed)
    assert not podspec.host_path_allowed(str(allowed_dir / "escape" / "passwd"), allowed)


def _job(volumes: str = "", env: str = "", name: str = "j") -> str:
    return f"""apiVersion: batch/v1
kind: Job
metadata: {{name: {name}}}
spec:
  template:
    spec:
      restartPolicy: Never
      containers:
      - name: c
        image: busybox
{env}{volumes}"""


def test_policy_refusal_names_the_field_and_the_policy_key(tmp_path: Path) -> None:
    """A hostPath outside allowed_host_paths is refused with its field path and policy.allowed_host_paths."""
    text = _job(
        volumes="        volumeMounts: [{name: v, mountPath: /v}]\n"
        f"      volumes: [{{name: v, hostPath: {{path: {tmp_path}/ok/../../etc}}}}]\n"
    )
    (m,) = loader.load_text(text, "j.yaml")
    policy = PolicyConfig(allowed_host_paths=[f"{tmp_path}/ok"])
    problems = podspec.check_policy(
        m.obj.spec.template,  # type: ignore[attr-defined]
        allow_host_network=policy.allow_host_network,
        allow_privileged=policy.allow_privileged,
        allowed_host_paths=policy.allowed_host_paths,
    )
    assert len(problems) == 1
    assert problems[0].startswith("spec.volumes[0].hostPath.path:") and "policy.allowed_host_paths" in problems[0]


def test_oversized_manifest_and_too_many_env_entries_are_refused() -> None:
    """More than 1 MiB of YAML, or more than 1,000 env entries, is refused with the limit."""
    with pytest.raises(ManifestInvalid, match="1 MiB"):
        loader.load_text(_job() + "#" * (1024 * 1024), "big.yaml")
    env = "        env:\n" + "".join(f"        - {{name: V{i}, value: x}}\n" for i in range(1001))
    with pytest.raises(ManifestInvalid, match="1000"):
        loader.load_text(_job(env=env), "env.yaml")
    assert loader.load_text(
        _job(env="        env:\n" + "".join(f"        - {{name: V{i}, value: x}}\n" for i in range(1000))), "ok.yaml"
    )


def test_names_over_63_characters_are_refused() -> None:
    """metadata.name longer than a DNS-1123 label (63) is refused naming the field."""
    with pytest.raises(ManifestInvalid, match="metadata.name"):
        loader.load_text(_job(name="a" * 64), "long.yaml")
