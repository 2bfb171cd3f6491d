"""The daemon as a process: nodes, socket, logs, config errors, and ctl without a daemon."""

from __future__ import annotations

import json
import os
import stat
import subprocess
from pathlib import Path
from typing import Any

from support.daemon import MINIORCH, Daemon


def _node_status(daemon: Daemon, name: str) -> str:
    out = daemon.ctl("get", "nodes").stdout
    row = next(line for line in out.splitlines() if line.startswith(name + " "))
    return row.split()[1]


def test_get_nodes_shows_readiness_labels_version_cpu_and_memory(daemon: Daemon) -> None:
    """ctl get nodes lists every node Ready with its labels, Docker version, CPUs and memory."""
    result = daemon.ctl("get", "nodes")
    assert result.returncode == 0
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["NAME", "STATUS", "VERSION", "CPU", "MEMORY", "AGE", "LABELS"]
    assert [line.split()[0] for line in lines[1:]] == ["node0", "node1", "node2"]
    for line in lines[1:]:
        name, status, version, cpu, memory, _age, labels = line.split()
        assert status == "Ready" and version[0].isdigit() and int(cpu) >= 1 and memory.endswith("Gi")
        assert f"kubernetes.io/hostname={name}" in labels
    node = json.loads(daemon.ctl("get", "node", "node1", "-o", "json").stdout)
    assert node["status"]["conditions"][0] == node["status"]["conditions"][0] | {"type": "Ready", "status": "True"}


def test_node_turns_not_ready_when_dockerd_stops_and_ready_when_back(daemon: Daemon, node_guard: list[Any]) -> None:
    """Stopping node2's dockerd makes it NotReady within node_timeout_seconds (3s); starting it makes it Ready."""
    node2 = next(n for n in node_guard if n.name == "node2")
    node2.stop()
    daemon.wait_for(lambda: _node_status(daemon, "node2") == "NotReady", timeout=3 + 3, what="node2 NotReady")
    assert _node_status(daemon, "node1") == "Ready"
    node2.start()
    daemon.wait_for(lambda: _node_status(daemon, "node2") == "Ready", timeout=10, what="node2 Ready again")


def test_socket_is_group_only_and_logs_are_json_when_not_a_terminal(daemon: Daemon) -> None:
    """The API socket is mode 0660; each log line is a JSON object with an event name."""
    mode = stat.S_IMODE(os.stat(daemon.socket).st_mode)
    assert mode == 0o660
    events = daemon.log_events()
    assert events and all("event" in e and "timestamp" in e for e in events)
    assert {"daemon_ready", "node_ready"} <= {e["event"] for e in events}


def test_bad_config_key_exits_2_naming_the_key(tmp_path: Path) -> None:
    """A wrong key or value in the config file gives one error naming the key, exit code 2."""
    for text, key in (
        ("timing:\n  node_timeout_secs: 3\n", "timing.node_timeout_secs"),
        ("timing:\n  node_timeout_seconds: soon\n", "timing.node_timeout_seconds"),
        ("api:\n  socket_mode: '0666'\n", "api.socket_mode"),
    ):
        cfg = tmp_path / "bad.yaml"
        cfg.write_text(text)
        result = subprocess.run([MINIORCH, "daemon", "--config", str(cfg)], capture_output=True, text=True, timeout=30)
        assert result.returncode == 2, result.stderr
        assert key in result.stderr and "Traceback" not in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1


def test_ctl_without_daemon_prints_one_line_naming_the_socket(tmp_path: Path) -> None:
    """No daemon: one line with the socket tried and how to start the daemon; exit 1; no traceback."""
    sock = tmp_path / "nothing.sock"
    result = subprocess.run(
        [MINIORCH, "ctl", "--socket", str(sock), "get", "jobs"], capture_output=True, text=True, timeout=30
    )
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and str(sock) in lines[0] and "miniorch daemon" in lines[0]
    env = {**os.environ, "MINIORCH_SOCKET": str(sock)}
    result = subprocess.run([MINIORCH, "ctl", "version"], capture_output=True, text=True, timeout=30, env=env)
    assert result.returncode == 1 and str(sock) in result.stderr


def test_version_and_wait_timeout_follow_kubectl(daemon: Daemon) -> None:
    """ctl version prints both versions; ctl wait on an unmet condition exits 1 after the timeout."""
    out = daemon.ctl("version").stdout
    assert "Client Version: v" in out and "Server Version: v" in out
    daemon.apply((Path(__file__).parent / "manifests" / "sleepy.yaml").read_text())
    result = daemon.ctl("wait", "--for=condition=Complete", "job/sleepy", "--timeout=1s")
    assert result.returncode == 1 and "timed out" in result.stderr
    assert daemon.ctl("wait", "--for=condition=Complete", "job/sleepy", "--timeout=30s").returncode == 0


def test_sigterm_stops_the_daemon_promptly_while_a_client_holds_a_stream_open(daemon: Daemon) -> None:
    """An open `ctl get events -w` does not keep a stopping daemon up: it exits 0 within seconds."""
    import signal
    import time

    env = {**os.environ, "MINIORCH_SOCKET": str(daemon.socket)}
    watcher = subprocess.Popen([MINIORCH, "ctl", "get", "events", "-w"], env=env, stdout=subprocess.DEVNULL)
    try:
        time.sleep(1.5)  # the stream is open
        started = time.monotonic()
        assert daemon.stop(signal.SIGTERM, timeout=20) == 0
        assert time.monotonic() - started < 10
    finally:
        watcher.kill()
        watcher.wait()
