"""The daemon as a service: its log (libraries included, journal priorities), config checks before
anything happens, where the config comes from, reloads that keep a good config, and a fresh /metrics."""

from __future__ import annotations

import json
import os
import platform
import select
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from support.daemon import MINIORCH, Daemon

import miniorch

LEVEL_PRIORITY = {"debug": "<7>", "info": "<6>", "warning": "<4>", "error": "<3>"}


@pytest.fixture
def nodes(docker_nodes: list[Any]) -> Iterator[list[tuple[str, str]]]:
    """(name, url) of the test nodes; managed containers are removed afterwards."""
    from conftest import _remove_managed_containers

    yield [(n.name, n.url) for n in docker_nodes]
    _remove_managed_containers(docker_nodes)


@pytest.fixture
def hanging_node(tmp_path: Path) -> Iterator[socket.socket]:
    """A unix socket that listens but never answers: a probe of it would hang; `dialled` tells if one came."""
    path = tmp_path / "hang.sock"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.bind(str(path))
    sock.listen(8)
    yield sock
    sock.close()


def dialled(listener: socket.socket) -> bool:
    """Someone connected to the listener (a pending connection is readable)."""
    return bool(select.select([listener], [], [], 0)[0])


def write_config(path: Path, values: dict[str, Any]) -> Path:
    path.write_text(yaml.safe_dump(values))
    return path


def run_miniorch(
    *args: str, env: dict[str, str] | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [MINIORCH, *args], capture_output=True, text=True, timeout=timeout, env={**os.environ, **(env or {})}
    )


# -- config errors before anything happens ---------------------------------------
def test_world_readable_token_stops_the_daemon_with_exit_2_before_any_node_is_dialled(
    tmp_path: Path, hanging_node: socket.socket
) -> None:
    """A world-readable api.token_file: exit 2 at once naming the file and the fix; no node dialled, no state made."""
    token = tmp_path / "token"
    token.write_text("0123456789abcdef0123456789abcdef")
    token.chmod(0o644)
    config = write_config(
        tmp_path / "c.yaml",
        {
            "state_dir": str(tmp_path / "state"),
            "manifests_dir": str(tmp_path / "jobs.d"),
            "api": {"socket": str(tmp_path / "run/m.sock"), "tcp": "127.0.0.1:7390", "token_file": str(token)},
            "nodes": [{"name": "hang", "url": f"unix://{hanging_node.getsockname()}"}],
            "timing": {"node_timeout_seconds": 30},
        },
    )
    started = time.monotonic()
    result = run_miniorch("daemon", "--config", str(config))
    assert result.returncode == 2, result
    assert result.stderr == (
        f"error: config file {config}: api.token_file {token} is readable by everyone; "
        f"fix it with 'chmod 600 {token}'\n"
    )
    assert time.monotonic() - started < 10
    assert not dialled(hanging_node)
    assert not (tmp_path / "state").exists() and not (tmp_path / "run").exists()


def test_check_config_exits_2_with_one_line_per_problem_and_dials_no_node(
    tmp_path: Path, hanging_node: socket.socket
) -> None:
    """--check-config: every problem on its own line (file, key, fix), exit 2; a node that would hang is not dialled."""
    plain = tmp_path / "file"
    plain.write_text("x")
    config = write_config(
        tmp_path / "c.yaml",
        {
            "state_dir": str(plain),
            "manifests_dir": str(plain),
            "api": {"socket": str(tmp_path / "run/m.sock"), "socket_group": "no-such-group-xyz"},
            "nodes": [{"name": "hang", "url": f"unix://{hanging_node.getsockname()}"}],
        },
    )
    result = run_miniorch("daemon", "--check-config", "--config", str(config), timeout=20)
    assert result.returncode == 2, result
    lines = result.stderr.splitlines()
    assert [line.split(": ")[2] for line in lines] == ["state_dir", "manifests_dir", "api.socket_group"], lines
    assert all(line.startswith(f"error: config file {config}: ") for line in lines)
    assert result.stdout == ""
    assert not dialled(hanging_node)


def test_check_config_reads_the_environment_then_defaults(tmp_path: Path) -> None:
    """Without --config: $MINIORCH_CONFIG is checked and named; without it (and no /etc file) the defaults."""
    config = write_config(
        tmp_path / "env.yaml", {"state_dir": str(tmp_path / "s"), "api": {"socket": str(tmp_path / "m.sock")}}
    )
    result = run_miniorch("daemon", "--check-config", env={"MINIORCH_CONFIG": str(config)})
    assert (result.returncode, result.stdout) == (0, f"config OK: {config}\n"), result.stderr
    config.write_text("bogus: 1\n")
    result = run_miniorch("daemon", "--check-config", env={"MINIORCH_CONFIG": str(config)})
    assert result.returncode == 2 and f"config file {config}: bogus: unknown key" in result.stderr
    if not Path("/etc/miniorch/miniorch.yaml").exists():
        env = {"MINIORCH_CONFIG": "", "XDG_STATE_HOME": str(tmp_path / "xdg")}
        result = run_miniorch("daemon", "--check-config", env=env)
        assert (result.returncode, result.stdout) == (0, "config OK: embedded defaults\n"), result.stderr


def test_config_error_under_systemd_carries_the_error_priority(tmp_path: Path) -> None:
    """On the journal stream ($JOURNAL_STREAM names stderr) the exit-2 lines start with <3>, so -p err shows them."""
    config = write_config(tmp_path / "c.yaml", {"bogus": 1, "log": {"level": "loud"}})
    err = tmp_path / "stderr"
    with err.open("w") as out:
        st = os.fstat(out.fileno())
        env = {**os.environ, "JOURNAL_STREAM": f"{st.st_dev}:{st.st_ino}"}
        code = subprocess.run([MINIORCH, "daemon", "-c", str(config)], stderr=out, env=env, timeout=60).returncode
    lines = err.read_text().splitlines()
    assert code == 2 and len(lines) == 2 and all(line.startswith("<3>error: config file ") for line in lines), lines


# -- the log ------------------------------------------------------------------
def _start(d: Daemon, journal: bool) -> None:
    """Start `d`; with `journal`, its stderr (the log file) is the journal stream systemd would name."""
    d.log_path.touch()
    st = os.stat(d.log_path)
    d.start(env={"JOURNAL_STREAM": f"{st.st_dev}:{st.st_ino}" if journal else "0:0"})


def test_every_log_line_is_json_including_uvicorn_and_apscheduler(nodes: list[tuple[str, str]], tmp_path: Path) -> None:
    """In JSON mode each stderr line is one JSON object with event/level/timestamp; libraries' lines too, no prefix."""
    d = Daemon(tmp_path / "d", nodes)
    _start(d, journal=False)  # JOURNAL_STREAM=0:0 is another stream: no priority prefix
    d.apply(
        "apiVersion: batch/v1\nkind: CronJob\nmetadata: {name: tick}\nspec:\n  schedule: '0 0 1 1 *'\n"
        "  jobTemplate:\n    spec:\n      template:\n        spec:\n          restartPolicy: Never\n"
        "          containers: [{name: c, image: miniorch.local/busybox:latest, command: ['true']}]\n"
    )
    time.sleep(1)
    assert d.stop() == 0
    events = [json.loads(line) for line in d.log_text().splitlines()]  # raises on any line that is not JSON
    assert all({"event", "level", "timestamp"} <= e.keys() for e in events)
    by_logger = {e.get("logger") for e in events}
    assert {"uvicorn.error", "apscheduler.scheduler"} <= by_logger, by_logger
    messages = [e["event"] for e in events if e.get("logger") == "uvicorn.error"]
    assert any(m.startswith("Started server process") for m in messages), messages
    assert any(m.startswith("Uvicorn running on unix socket") for m in messages), messages
    assert [e["source"] for e in events if e["event"] == "config_loaded"] == ["--config"]


def test_on_the_journal_each_line_starts_with_its_priority_and_a_bad_reload_keeps_the_config(
    nodes: list[tuple[str, str]], tmp_path: Path
) -> None:
    """Journal prefixes match each line's level (<7> debug ... <3> error); SIGHUP with a bad config logs
    config_reload_failed with every problem, keeps the running config and nodes; a good one then applies."""
    d = Daemon(tmp_path / "d", nodes)
    (d.manifests / "broken.yaml").write_text("apiVersion: batch/v1\nkind: Job\nmetadata: {name: Bad_Name}\n")
    _start(d, journal=True)
    assert d.proc is not None
    good = yaml.safe_load(d.config_path.read_text())
    plain = tmp_path / "file"
    plain.write_text("x")
    d.config_path.write_text(yaml.safe_dump({**good, "nodes": good["nodes"][:1], "bogus": 1, "log": {"level": "loud"}}))
    d.proc.send_signal(signal.SIGHUP)
    d.wait_for(lambda: "config_reload_failed" in d.log_text(), what="config_reload_failed")
    d.config_path.write_text(yaml.safe_dump({**good, "nodes": good["nodes"][:1], "state_dir": str(plain)}))
    d.proc.send_signal(signal.SIGHUP)
    d.wait_for(lambda: d.log_text().count("config_reload_failed") == 2, what="a second config_reload_failed")
    assert len(d.api("GET", "/api/v1/nodes")["items"]) == len(nodes)  # the running config stays
    d.config_path.write_text(yaml.safe_dump({**good, "nodes": good["nodes"][:1]}))
    d.proc.send_signal(signal.SIGHUP)
    d.wait_for(lambda: "config_reloaded" in d.log_text(), what="config_reloaded")
    assert [n["metadata"]["name"] for n in d.api("GET", "/api/v1/nodes")["items"]] == [nodes[0][0]]
    assert d.stop() == 0

    lines = d.log_text().splitlines()
    events = []
    for line in lines:
        prefix, rest = line[:3], line[3:]
        event = json.loads(rest)
        assert prefix == LEVEL_PRIORITY[event["level"]], line
        events.append(event)
    assert {"<7>", "<6>", "<4>", "<3>"} <= {line[:3] for line in lines}
    failed = [e for e in events if e["event"] == "config_reload_failed"]
    assert [sorted(p.split(": ")[1] for p in e["errors"]) for e in failed] == [["bogus", "log.level"], ["state_dir"]]
    assert all(e["level"] == "error" and e["source"] == str(d.config_path) for e in failed)


def test_daemon_without_config_flag_reads_miniorch_config_and_logs_it(
    nodes: list[tuple[str, str]], tmp_path: Path
) -> None:
    """`miniorch daemon` with $MINIORCH_CONFIG serves with that file and logs config_loaded source=$MINIORCH_CONFIG."""
    d = Daemon(tmp_path / "d", nodes)
    log = d.log_path.open("ab")
    proc = subprocess.Popen(
        [MINIORCH, "daemon"],
        stdout=log,
        stderr=subprocess.STDOUT,
        env={**os.environ, "MINIORCH_CONFIG": str(d.config_path)},
    )
    d.proc, d._log = proc, log  # so d.stop() ends it
    try:
        d.wait_for(lambda: "daemon_ready" in d.log_text(), what="daemon_ready")
        assert d.api("GET", "/version")
    finally:
        assert d.stop() == 0
    (loaded,) = [e for e in d.log_events() if e["event"] == "config_loaded"]
    assert (loaded["source"], loaded["path"]) == ("$MINIORCH_CONFIG", str(d.config_path))


# -- /metrics -----------------------------------------------------------------
def test_a_fresh_daemon_serves_build_info_process_metrics_and_zero_counters(daemon: Daemon) -> None:
    """Before any pod: miniorch_build_info, process_* and python_* families, pod and Docker-error counters at 0."""
    text = daemon.api("GET", "/metrics")
    build = f'miniorch_build_info{{python="{platform.python_version()}",version="{miniorch.__version__}"}} 1.0'
    assert build in text
    for family in ("process_resident_memory_bytes", "process_open_fds", "python_info", "python_gc_collections_total"):
        assert f"\n{family}" in text, family
    for kind in ("Job", "DaemonSet"):
        for counter in ("started", "succeeded", "failed"):
            assert f'miniorch_pods_{counter}_total{{owner_kind="{kind}"}} 0.0' in text
    for node in ("node0", "node1", "node2"):
        for error in ("NodeUnavailable", "DockerRejected", "ContainerNotFound", "ImageNotFound"):
            assert f'miniorch_docker_api_errors_total{{error="{error}",node="{node}"}} 0.0' in text
