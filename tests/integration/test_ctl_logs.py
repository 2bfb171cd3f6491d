"""`ctl logs --since / --timestamps / --previous` on real Docker nodes, live and after the container is gone."""

from __future__ import annotations

import datetime as dt
import os
import re
import subprocess
import time
from typing import Any

import yaml
from conftest import managed_containers
from support import dockernodes
from support.daemon import MINIORCH, Daemon, job_yaml

IMAGE = "miniorch.local/busybox:latest"
STAMPED = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z) (.*)$")


def _stamps(text: str) -> list[tuple[dt.datetime, str]]:
    """(time, text) of each line; every line must carry an RFC 3339 nanosecond timestamp."""
    out = []
    for line in text.splitlines():
        found = STAMPED.match(line)
        assert found, f"no timestamp on {line!r}"
        out.append((dt.datetime.fromisoformat(found.group(1)[:26] + "+00:00"), found.group(2)))
    return out


def _pod(daemon: Daemon, job: str) -> dict[str, Any]:
    pod: dict[str, Any] = daemon.wait_for(lambda: daemon.pods(job) and daemon.pods(job)[-1], what=f"a pod of {job}")
    return pod


def _containers_of(docker_nodes: list[Any], job: str) -> list[Any]:
    return [
        c
        for cs in managed_containers(docker_nodes).values()
        for c in cs
        if c.labels.get("miniorch.io/owner-name") == job
    ]


def test_since_and_timestamps_live_and_after_the_container_is_gone(daemon: Daemon, docker_nodes: list[Any]) -> None:
    """--since keeps only recent lines and --timestamps prefixes RFC 3339 times, on a running container
    and on the stored tail once the pod finished and its container was removed."""
    daemon.apply(job_yaml("clock", "echo early; sleep 6; echo late; sleep 4"))
    name = _pod(daemon, "clock")["metadata"]["name"]
    daemon.wait_for(lambda: "late" in daemon.ctl("logs", name).stdout, timeout=30, what="the late line")
    assert daemon.ctl("logs", name, "--since=3s", check=True).stdout.split() == ["late"]
    assert daemon.ctl("logs", name, "--since=1m", check=True).stdout.split() == ["early", "late"]
    live = _stamps(daemon.ctl("logs", name, "--timestamps", check=True).stdout)
    assert [t for _, t in live] == ["early", "late"]
    gap = (live[1][0] - live[0][0]).total_seconds()
    assert 5 <= gap <= 9, gap
    assert abs((dt.datetime.now(dt.UTC) - live[1][0]).total_seconds()) < 30

    daemon.wait_job("clock")
    daemon.wait_for(lambda: not _containers_of(docker_nodes, "clock"), timeout=20, what="the container removed")
    stored = _stamps(daemon.ctl("logs", name, "--timestamps", check=True).stdout)
    assert stored == live
    assert daemon.ctl("logs", name, check=True).stdout.split() == ["early", "late"]
    age = (dt.datetime.now(dt.UTC) - stored[1][0]).total_seconds()
    window = f"{int(age) + 3}s"  # the late line and not the early one, 6 s before it
    assert daemon.ctl("logs", name, f"--since={window}", check=True).stdout.split() == ["late"]
    assert daemon.ctl("logs", "job/clock", "--since=1h", "--tail=1", check=True).stdout.split() == ["late"]
    assert daemon.ctl("logs", name, "--since=0.5s").stdout == ""
    bad = daemon.ctl("logs", name, "--since=5 minutes")
    assert bad.returncode == 2 and "invalid duration" in bad.stderr


ON_FAILURE = "if [ -f /tmp/marker ]; then echo second; sleep 5; exit 0; fi; touch /tmp/marker; echo first; exit 2"


def test_previous_of_a_container_restarted_in_place(daemon: Daemon, docker_nodes: list[Any]) -> None:
    """OnFailure: while the second run is live, --previous prints the first run only (plain logs print both, as
    Docker keeps them); after the container is gone the stored tail answers the same; job/NAME --previous too."""
    daemon.apply(job_yaml("again", ON_FAILURE, restart="OnFailure", backoff_limit=3))
    pod = _pod(daemon, "again")
    name = pod["metadata"]["name"]
    refused = daemon.ctl("logs", name, "--previous")
    if pod["status"]["containerStatuses"][0]["restartCount"] == 0:
        assert refused.returncode == 1 and "has not been restarted" in refused.stderr

    def second_run_live() -> bool:
        p = daemon.api("GET", f"/api/v1/namespaces/default/pods/{name}")
        live = p["status"]["phase"] == "Running" and p["status"]["containerStatuses"][0]["restartCount"] == 1
        return live and "second" in daemon.ctl("logs", name).stdout

    daemon.wait_for(second_run_live, timeout=30, what="the second run")
    assert daemon.ctl("logs", name, "--previous", check=True).stdout.split() == ["first"]
    assert daemon.ctl("logs", name, "-p", "--timestamps", check=True).stdout.split()[1:] == ["first"]
    assert daemon.ctl("logs", name, check=True).stdout.split() == ["first", "second"]
    daemon.wait_job("again")
    daemon.wait_for(lambda: not _containers_of(docker_nodes, "again"), timeout=20, what="the container removed")
    assert daemon.ctl("logs", name, "--previous", check=True).stdout.split() == ["first"]
    assert daemon.ctl("logs", "job/again", "--previous", check=True).stdout.split() == ["first"]
    assert daemon.ctl("logs", name, check=True).stdout.split() == ["first", "second"]
    assert [t for _, t in _stamps(daemon.ctl("logs", name, "--timestamps").stdout)] == ["first", "second"]


def test_previous_of_a_job_whose_pods_never_restart_is_the_attempt_before(daemon: Daemon) -> None:
    """restartPolicy Never: job/NAME --previous prints the failed attempt before the newest pod; a single pod has none."""
    daemon.apply(job_yaml("tries", "echo attempt $(hostname); exit 1", backoff_limit=1))
    daemon.wait_job("tries", "Failed")
    first, second = [p["metadata"]["name"] for p in daemon.pods("tries")]
    out = daemon.ctl("logs", "job/tries", "--previous", check=True)
    assert out.stdout.strip() == f"attempt {first}" and f"pod/{first}" in out.stderr
    assert daemon.ctl("logs", "job/tries", check=True).stdout.strip() == f"attempt {second}"
    refused = daemon.ctl("logs", second, "--previous")
    assert refused.returncode == 1 and "has not been restarted" in refused.stderr
    daemon.apply(job_yaml("once", "echo once"))
    daemon.wait_job("once")
    single = daemon.ctl("logs", "job/once", "--previous")
    assert single.returncode == 1 and "one run only" in single.stderr


COUNTING_AGENT = (
    "n=$(cat /tmp/runs 2>/dev/null || echo 0); n=$((n+1)); echo $n > /tmp/runs; echo run $n; "
    "trap 'echo stop $n; exit 3' TERM; while true; do sleep 0.2; done"
)


def test_previous_of_a_daemonset_pod_docker_restarted(daemon: Daemon, docker_nodes: list[Any]) -> None:
    """A DaemonSet container that exits is restarted in place by Docker: --previous prints the run before."""
    doc = {
        "apiVersion": "apps/v1",
        "kind": "DaemonSet",
        "metadata": {"name": "counter"},
        "spec": {
            "selector": {"matchLabels": {"app": "counter"}},
            "template": {
                "metadata": {"labels": {"app": "counter"}},
                "spec": {
                    "terminationGracePeriodSeconds": 1,
                    "nodeSelector": {"kubernetes.io/hostname": "node1"},
                    "containers": [
                        {
                            "name": "agent",
                            "image": IMAGE,
                            "imagePullPolicy": "Never",
                            "command": ["sh", "-c", COUNTING_AGENT],
                        }
                    ],
                },
            },
        },
    }
    daemon.apply(yaml.safe_dump(doc))

    def running(restarts: int) -> dict[str, Any] | None:
        items = daemon.api("GET", "/api/v1/pods", params={"labelSelector": "app=counter"})["items"]
        ok = [
            p
            for p in items
            if p["status"]["phase"] == "Running" and p["status"]["containerStatuses"][0]["restartCount"] == restarts
        ]
        return ok[0] if ok else None

    name = daemon.wait_for(lambda: running(0), timeout=20, what="the agent")["metadata"]["name"]
    node1 = next(n for n in docker_nodes if n.name == "node1")
    for restarts in (1, 2):
        daemon.wait_for(lambda r=restarts: f"run {r}" in daemon.ctl("logs", name).stdout, what=f"run {restarts}")
        with dockernodes.client(node1.url) as c:
            c.containers.get(name).exec_run(["kill", "-TERM", "1"])
        daemon.wait_for(lambda r=restarts: running(r), timeout=20, what=f"restartCount {restarts}")
        daemon.wait_for(
            lambda r=restarts: f"run {r + 1}" in daemon.ctl("logs", name).stdout, what="the next run's output"
        )
        time.sleep(0.2)
        assert daemon.ctl("logs", name, "--previous", check=True).stdout.split() == [
            "run",
            str(restarts),
            "stop",
            str(restarts),
        ]
    assert daemon.ctl("logs", name, check=True).stdout.split() == [
        "run",
        "1",
        "stop",
        "1",
        "run",
        "2",
        "stop",
        "2",
        "run",
        "3",
    ]


def test_follow_passes_timestamps_and_since_to_the_live_container(daemon: Daemon) -> None:
    """logs -f --timestamps streams stamped lines until the container stops; -f with --previous is a usage error."""
    daemon.apply(job_yaml("stream", "echo one; sleep 2; echo two; sleep 1"))
    name = daemon.wait_for(
        lambda: next((p["metadata"]["name"] for p in daemon.pods("stream") if p["status"]["phase"] == "Running"), None),
        what="a running pod",
    )
    followed = daemon.ctl("logs", name, "-f", "--timestamps", check=True, timeout=60)
    assert [t for _, t in _stamps(followed.stdout)] == ["one", "two"]
    assert daemon.ctl("logs", name, "-f", "--previous").returncode == 2


def test_a_follower_that_goes_away_ends_the_daemons_stream_at_once(daemon: Daemon) -> None:
    """ctl logs -f killed mid-stream: the daemon's thread reading that container's output stops
    within seconds (it used to read on until the container ended or 300 s of silence)."""
    daemon.apply(job_yaml("chatty", "while true; do echo tick; sleep 0.2; done"))
    name = daemon.wait_for(
        lambda: next((p["metadata"]["name"] for p in daemon.pods("chatty") if p["status"]["phase"] == "Running"), None),
        what="a running pod",
    )
    env = {**os.environ, "MINIORCH_SOCKET": str(daemon.socket)}
    with subprocess.Popen([MINIORCH, "ctl", "logs", name, "-f"], stdout=subprocess.PIPE, env=env) as follower:
        try:
            assert follower.stdout is not None and follower.stdout.readline().strip() == b"tick"
        finally:
            follower.kill()
    ended = daemon.wait_for(
        lambda: next(
            (e for e in daemon.log_events() if e.get("event") == "log_follow_ended" and e.get("pod") == name), None
        ),
        timeout=10,
        what="the daemon's follow of the pod to end",
    )
    assert ended["cause"] == "the client went away"
    daemon.ctl("delete", "job", "chatty", check=True)
