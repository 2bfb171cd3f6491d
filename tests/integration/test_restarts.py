"""The daemon stops or dies mid-Job: results are never lost or doubled, containers never orphaned."""

from __future__ import annotations

import signal
import time
from typing import Any

import pytest
from conftest import managed_containers
from support.daemon import Daemon, job_yaml

pytestmark = pytest.mark.both_backends  # the Store behaves alike on both (DESIGN 8)


def _running(nodes: list[Any]) -> int:
    return sum(1 for cs in managed_containers(nodes).values() for c in cs if c.status == "running")


def _assert_exact(daemon: Daemon, name: str, completions: int, nodes: list[Any]) -> None:
    job = daemon.wait_job(name, timeout=90)
    pods = daemon.pods(name)
    assert job["status"]["succeeded"] == completions
    assert job["status"]["failed"] == 0
    assert len(pods) == completions, [p["metadata"]["name"] for p in pods]
    assert all(p["status"]["phase"] == "Succeeded" for p in pods)
    daemon.wait_for(lambda: all(not cs for cs in managed_containers(nodes).values()), what="no containers left")


def test_sigterm_leaves_containers_running_and_restart_adopts_them(daemon: Daemon, docker_nodes: list[Any]) -> None:
    """SIGTERM: exit 0, running pods keep running; results of pods that finished meanwhile are recorded after restart."""
    daemon.apply(job_yaml("calm", "sleep 5; echo finished", parallelism=2, completions=4))
    daemon.wait_for(lambda: _running(docker_nodes) == 2, what="2 running containers")
    assert daemon.stop(signal.SIGTERM) == 0
    assert _running(docker_nodes) == 2
    daemon.wait_for(
        lambda: _running(docker_nodes) == 0, timeout=15, what="containers finishing while no daemon watches"
    )
    daemon.start()
    _assert_exact(daemon, "calm", 4, docker_nodes)
    assert all(daemon.ctl("logs", p["metadata"]["name"]).stdout.strip() == "finished" for p in daemon.pods("calm"))


def test_kill_9_at_any_point_loses_no_result_and_duplicates_no_pod(daemon: Daemon, docker_nodes: list[Any]) -> None:
    """kill -9 repeatedly (right after apply, mid-run, between pods): exact counts, no orphan container."""
    daemon.apply(job_yaml("crashy", "sleep 1", parallelism=3, completions=9))
    for delay in (0.05, 0.4, 1.2, 0.7, 0.2):
        time.sleep(delay)
        daemon.kill()
        daemon.start()
    _assert_exact(daemon, "crashy", 9, docker_nodes)


def test_kill_9_while_a_failed_pod_waits_for_backoff_counts_it_once(daemon: Daemon, docker_nodes: list[Any]) -> None:
    """A failure recorded before kill -9 is counted once; the Job fails after exactly backoffLimit+1 pods."""
    daemon.apply(job_yaml("crash-fail", "exit 1", backoff_limit=2))
    daemon.wait_for(lambda: len(daemon.pods("crash-fail")) >= 2, what="2 pods")
    daemon.kill()
    daemon.start()
    job = daemon.wait_job("crash-fail", "Failed", timeout=30)
    assert len(daemon.pods("crash-fail")) == 3
    assert job["status"]["failed"] == 3
    # a finished pod is recorded (and its Job may complete) before its log is kept and its container goes
    daemon.wait_for(
        lambda: all(not cs for cs in managed_containers(docker_nodes).values()), timeout=15, what="no containers left"
    )


def test_two_daemons_sharing_nodes_leave_each_others_containers_alone(
    daemon: Daemon, docker_nodes: list[Any], tmp_path: Any
) -> None:
    """A second miniorch (its own store) on the same Docker hosts neither adopts nor removes the first one's pods."""
    other = Daemon(tmp_path / "other", [(n.name, n.url) for n in docker_nodes])
    other.start()
    try:
        daemon.apply(job_yaml("mine", "sleep 3", parallelism=3, completions=3))
        other.apply(job_yaml("theirs", "sleep 3", parallelism=3, completions=3))
        for d, name in ((daemon, "mine"), (other, "theirs")):
            job = d.wait_job(name, timeout=60)
            assert job["status"]["succeeded"] == 3 and job["status"]["failed"] == 0
            assert len(d.pods(name)) == 3
        labels = {c.labels.get("miniorch.io/cluster") for cs in managed_containers(docker_nodes).values() for c in cs}
        assert None not in labels
    finally:
        other.stop()
