"""Two daemons on one PostgreSQL database and the same real nodes: one leads, the other stands by
and takes over when the leader dies or freezes, with exact Job counts and every cron slot once."""

from __future__ import annotations

import datetime as dt
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import _remove_managed_containers
from support.daemon import Daemon, _accepting, job_yaml
from test_cronjobs import cronjob_yaml, scheduled_times

LEASE = 3.0
HEARTBEAT = 0.5  # FAST_TIMING's node_heartbeat_seconds: the standby asks for the lease this often


@pytest.fixture
def pair(tmp_path: Path, docker_nodes: list[Any], postgres: Any) -> Iterator[tuple[Daemon, Daemon]]:
    """Daemons `a` and `b` with ha.enabled on one fresh database; `a` is started first and leads."""
    url = postgres.create_database()
    nodes = [(n.name, n.url) for n in docker_nodes]
    made = []
    for name in ("a", "b"):
        extra = {
            "database": url,
            "ha": {"enabled": True, "name": name, "lease_seconds": LEASE},
            "secrets": {"key_file": str(tmp_path / "secret.key")},  # daemons sharing a database share the key
        }
        made.append(Daemon(tmp_path / name, nodes, extra=extra))
    a, b = made
    a.start()
    a.wait_for(lambda: role(a) == "leader", what="a leading")
    b.start()
    yield a, b
    for d in (a, b):
        if d.proc is not None:
            if d.proc.poll() is None:
                d.proc.send_signal(signal.SIGCONT)
                try:
                    d.stop()
                except subprocess.TimeoutExpired:  # never leave it running for the next test to trip on
                    d.kill()
                    raise
            elif d._log:
                d._log.close()
    _remove_managed_containers(docker_nodes)


def role(d: Daemon) -> str | None:
    """`leader`/`standby` as the daemon's API says; None while it does not answer (frozen, re-executing)."""
    if not _accepting(d.socket):
        return None
    try:
        version = d.api("GET", "/version", timeout=2)
    except httpx.HTTPError:
        return None
    return str(version.get("role")) if version else None


def test_one_daemon_leads_the_standby_reads_and_refuses_writes_naming_the_leader(pair: tuple[Daemon, Daemon]) -> None:
    a, b = pair
    assert "Server Role: leader (a)" in a.ctl("version", check=True).stdout
    standby = b.ctl("version", check=True).stdout
    assert "Server Role: standby (leader: a at " in standby
    a.apply(job_yaml("shared", "echo from-the-leader", completions=1))
    a.wait_job("shared")
    listed = b.ctl("get", "jobs")
    assert listed.returncode == 0 and "shared" in listed.stdout  # reads come from the shared database
    path = b.workdir / "other.yaml"
    path.write_text(job_yaml("refused", "true"))
    refused = b.ctl("apply", "-f", str(path))
    assert refused.returncode == 1
    assert "standby" in refused.stderr and "the leader is a at" in refused.stderr
    assert a.job("refused") is None
    metrics_a, metrics_b = a.api("GET", "/metrics"), b.api("GET", "/metrics")
    assert "miniorch_leader 1.0" in metrics_a and "miniorch_leader 0.0" in metrics_b


def test_kill_9_of_the_leader_mid_job_and_mid_cron_loses_nothing_and_doubles_nothing(
    pair: tuple[Daemon, Daemon], docker_nodes: list[Any]
) -> None:
    a, b = pair
    a.apply(job_yaml("steady", "sleep 1", parallelism=2, completions=8))
    a.apply(cronjob_yaml("tick", "*/5 * * * * *", "true", successfulJobsHistoryLimit=50), name="cron.yaml")
    a.wait_for(lambda: (a.job("steady") or {}).get("status", {}).get("succeeded", 0) >= 2, what="2 pods done")
    a.wait_for(lambda: len(scheduled_times(a, "tick")) >= 1, timeout=10, what="a first cron slot")
    killed = time.monotonic()
    a.kill()
    b.wait_for(lambda: role(b) == "leader", timeout=LEASE + HEARTBEAT + 3, what="b leading")
    took = time.monotonic() - killed
    assert took <= LEASE + HEARTBEAT + 1.5, f"takeover took {took:.1f}s"
    job = b.wait_job("steady", timeout=60)
    pods = b.pods("steady")
    assert job["status"]["succeeded"] == 8 and job["status"]["failed"] == 0
    assert len(pods) == 8 and all(p["status"]["phase"] == "Succeeded" for p in pods)
    led = dt.datetime.now(dt.UTC)
    b.wait_for(
        lambda: sum(1 for slot in scheduled_times(b, "tick") if slot > led) >= 2,
        timeout=20,
        what="two slots fired by the new leader",
    )
    slots = sorted(scheduled_times(b, "tick"))
    assert len(slots) == len(set(slots)) >= 3
    gaps = {(later - earlier).total_seconds() for earlier, later in zip(slots, slots[1:], strict=False)}
    assert gaps == {5.0}, f"every 5 s slot exactly once: {slots}"


def test_a_leader_frozen_past_its_lease_acts_on_nothing_when_it_wakes_and_becomes_a_standby(
    pair: tuple[Daemon, Daemon],
) -> None:
    a, b = pair
    a.apply(job_yaml("frozen", "sleep 1", parallelism=1, completions=6))
    a.wait_for(lambda: (a.job("frozen") or {}).get("status", {}).get("succeeded", 0) >= 1, what="1 pod done")
    assert a.proc is not None
    a.proc.send_signal(signal.SIGSTOP)
    # How soon b takes over is the takeover test's bound; on a loaded CI host it took over 6.5 s here.
    b.wait_for(lambda: role(b) == "leader", timeout=LEASE + 20, what="b leading")
    woke = dt.datetime.now(dt.UTC)
    a.proc.send_signal(signal.SIGCONT)

    def back_as_standby() -> bool:  # the fresh process (the old one says standby too, for 0.1 s before its exec)
        seen = [e.get("event") for e in a.log_events()]
        down = seen.index("daemon_stepping_down") if "daemon_stepping_down" in seen else None
        return down is not None and "daemon_standby" in seen[down:] and role(a) == "standby"

    a.wait_for(back_as_standby, timeout=15, what="a back as a standby")
    assert a.proc.poll() is None  # the same process (re-executed), not a crash
    version = a.ctl("version", check=True).stdout
    assert "Server Role: standby (leader: b at " in version
    events = a.log_events()
    assert any(e.get("event") == "leadership_lost" for e in events)
    acted = [
        e
        for e in events
        if e.get("event") in ("pod_started", "pod_restarted", "pod_terminated", "orphan_container_removed")
        and dt.datetime.fromisoformat(e["timestamp"].replace("Z", "+00:00")) > woke + dt.timedelta(seconds=0.5)
    ]
    assert acted == [], acted
    job = b.wait_job("frozen", timeout=60)
    assert job["status"]["succeeded"] == 6 and len(b.pods("frozen")) == 6
