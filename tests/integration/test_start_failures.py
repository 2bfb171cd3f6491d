"""Failures a user must see, on real Docker nodes: a container the engine cannot start (its
bridge vanished), and a dockerd restart under the daemon's event streams."""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Iterator
from typing import Any

import yaml
from support.daemon import Daemon, job_yaml

from miniorch.reconcile import startretry

PIN_NODE2 = {"nodeSelector": {"kubernetes.io/hostname": "node2"}}
BRIDGE_GONE = "could not find bridge"


def _node(nodes: list[Any], name: str) -> Any:
    return next(n for n in nodes if n.name == name)


@contextlib.contextmanager
def bridge_removed(node: Any) -> Iterator[None]:
    """The node's Linux bridge deleted under its running dockerd (as when docker0 vanished), then restored."""
    node.remove_bridge()
    try:
        yield
    finally:
        node.ensure_bridge()


def _times(daemon: Daemon, pod: str) -> list[dt.datetime]:
    """When each refused try of `pod` was recorded, from the daemon's log."""
    return [
        dt.datetime.fromisoformat(e["timestamp"].replace("Z", "+00:00"))
        for e in daemon.log_events()
        if e.get("event") in ("pod_start_refused", "pod_start_failed") and e.get("pod") == pod
    ]


def test_a_container_whose_node_lost_its_bridge_is_shown_retried_with_backoff_and_fails_the_job(
    daemon: Daemon, node_guard: list[Any]
) -> None:
    """node2's bridge is gone: get pods shows RunContainerError, describe pod/job the engine's message, a
    counted Warning event; tries spaced 1, 2, 4, 8 s; after 5 the pod fails; backoffLimit 1 -> Job Failed."""
    with bridge_removed(_node(node_guard, "node2")):
        daemon.apply(job_yaml("nobridge", "echo never", backoff_limit=1, pod_spec=PIN_NODE2))
        first = daemon.wait_for(
            lambda: next(
                (p for p in daemon.pods("nobridge") if p["status"].get("reason") == "RunContainerError"), None
            ),
            timeout=20,
            what="a pod waiting with RunContainerError",
        )
        name = first["metadata"]["name"]
        assert first["status"]["phase"] == "Pending"
        waiting = first["status"]["containerStatuses"][0]["state"]["waiting"]
        assert waiting["reason"] == "RunContainerError" and BRIDGE_GONE in waiting["message"]
        row = next(line for line in daemon.ctl("get", "pods").stdout.splitlines() if line.startswith(name))
        assert row.split()[2] == "RunContainerError"  # the STATUS column, as kubectl
        described = daemon.ctl("describe", "pod", name).stdout
        assert "RunContainerError" in described and BRIDGE_GONE in described and "Failed" in described
        described_job = daemon.ctl("describe", "job", "nobridge").stdout
        assert f"{name}: RunContainerError: start {name}: failed to create endpoint" in described_job

        job = daemon.wait_job("nobridge", "Failed", timeout=120)
        pods = daemon.pods("nobridge")

    failed = next(c for c in job["status"]["conditions"] if c["type"] == "Failed")
    assert failed["reason"] == "BackoffLimitExceeded"
    assert "RunContainerError" in failed["message"] and "node node2" in failed["message"]
    assert BRIDGE_GONE in failed["message"]
    assert job["status"]["failed"] == 2 and len(pods) == 2
    policy = startretry.DEFAULT
    for pod in pods:
        pname = pod["metadata"]["name"]
        assert (pod["status"]["phase"], pod["status"]["reason"]) == ("Failed", "RunContainerError")
        assert pod["status"]["message"].endswith(f"(gave up after {policy.max_tries} tries)")
        events = [e for e in daemon.events(pod["metadata"]["uid"]) if e["reason"] == "Failed"]
        assert len(events) == 1, events  # counted, not duplicated
        assert events[0]["type"] == "Warning" and events[0]["count"] == policy.max_tries
        assert events[0]["involvedObject"]["kind"] == "Pod" and events[0]["involvedObject"]["name"] == pname
        assert "node 'node2'" in events[0]["message"] and BRIDGE_GONE in events[0]["message"]
        times = _times(daemon, pname)
        assert len(times) == policy.max_tries
        gaps = [(b - a).total_seconds() for a, b in zip(times, times[1:], strict=False)]
        for n, gap in enumerate(gaps, start=1):
            assert policy.delay(n) - 0.2 <= gap <= policy.delay(n) + 3, gaps
    assert "Traceback" not in daemon.log_text()


def test_a_container_the_engine_refuses_to_create_fails_the_job_after_the_bounded_tries(daemon: Daemon) -> None:
    """A 1 MiB memory limit passes the manifest checks but the engine refuses the create: the pod waits with
    CreateContainerError and Docker's words, then fails after 5 tries; backoffLimit 0 ends the Job."""
    daemon.apply(job_yaml("tiny", "true", backoff_limit=0, container={"resources": {"limits": {"memory": "1Mi"}}}))
    daemon.wait_for(
        lambda: "CreateContainerError" in daemon.ctl("get", "pods").stdout,
        timeout=20,
        what="get pods showing CreateContainerError",
    )
    job = daemon.wait_job("tiny", "Failed", timeout=60)
    (pod,) = daemon.pods("tiny")
    assert (pod["status"]["reason"], job["status"]["failed"]) == ("CreateContainerError", 1)
    assert "Minimum memory limit allowed is 6MB" in pod["status"]["message"]
    assert len(_times(daemon, pod["metadata"]["name"])) == startretry.DEFAULT.max_tries
    failed = next(c for c in job["status"]["conditions"] if c["type"] == "Failed")
    assert "CreateContainerError" in failed["message"] and "Minimum memory limit" in failed["message"]


def test_a_daemonset_pod_whose_node_lost_its_bridge_backs_off_per_node_with_the_reason(
    daemon: Daemon, node_guard: list[Any]
) -> None:
    """A DaemonSet on every node, node2 without its bridge: node0/node1 run; node2's pod shows
    RunContainerError, fails after the bounded tries, and describe ds shows the per-node BackOff and why."""
    ds = {
        "apiVersion": "apps/v1",
        "kind": "DaemonSet",
        "metadata": {"name": "agent"},
        "spec": {
            "selector": {"matchLabels": {"app": "agent"}},
            "template": {
                "metadata": {"labels": {"app": "agent"}},
                "spec": {
                    "terminationGracePeriodSeconds": 1,
                    "containers": [
                        {
                            "name": "a",
                            "image": "miniorch.local/busybox:latest",
                            "imagePullPolicy": "Never",
                            "command": ["sleep", "300"],
                        }
                    ],
                },
            },
        },
    }
    with bridge_removed(_node(node_guard, "node2")):
        daemon.apply(yaml.safe_dump(ds))

        def node2_pods() -> list[dict[str, Any]]:
            items = daemon.api("GET", "/api/v1/pods", params={"labelSelector": "app=agent"})["items"]
            return [p for p in items if p["spec"]["nodeName"] == "node2"]

        daemon.wait_for(
            lambda: any(p["status"].get("reason") == "RunContainerError" for p in node2_pods()),
            timeout=20,
            what="node2's pod waiting with RunContainerError",
        )
        assert "RunContainerError" in daemon.ctl("get", "pods", "-l", "app=agent").stdout
        gave_up = daemon.wait_for(
            lambda: [p for p in node2_pods() if p["status"]["phase"] == "Failed"], timeout=40, what="a failed pod"
        )
        assert BRIDGE_GONE in gave_up[0]["status"]["message"]

        def node2_line() -> dict[str, Any] | None:
            status = daemon.api("GET", "/apis/apps/v1/namespaces/default/daemonsets/agent")["status"]
            line: dict[str, Any] = next(n for n in status["nodes"] if n["name"] == "node2")
            return line if "RunContainerError" in line.get("message", "") else None

        line = daemon.wait_for(node2_line, timeout=20, what="node2's line naming RunContainerError")
        assert line["state"] in ("BackOff", "NotReady") and BRIDGE_GONE in line["message"]
        status = daemon.api("GET", "/apis/apps/v1/namespaces/default/daemonsets/agent")["status"]
        assert status["numberReady"] == 2 and status["desiredNumberScheduled"] == 3
        daemon.wait_for(
            lambda: "RunContainerError" in daemon.ctl("describe", "ds", "agent").stdout,
            timeout=20,
            what="describe ds naming RunContainerError",
        )
        # the failed pod is replaced on node2 after the per-node backoff (DESIGN 4.6), not at once
        replaced = daemon.wait_for(
            lambda: [p for p in node2_pods() if p["metadata"]["name"] != gave_up[0]["metadata"]["name"]],
            timeout=20,
            what="a replacement pod on node2",
        )
        first_try = daemon.wait_for(
            lambda: _times(daemon, replaced[0]["metadata"]["name"]), timeout=10, what="the replacement's first try"
        )[0]
        gave_up_at = _times(daemon, gave_up[0]["metadata"]["name"])[-1]
        assert (first_try - gave_up_at).total_seconds() >= 0.8  # 1 s after the node's first failure
    assert "Traceback" not in daemon.log_text()


def test_a_dockerd_restart_leaves_no_traceback_and_its_event_stream_resumes(
    daemon: Daemon, node_guard: list[Any]
) -> None:
    """Stop node1's dockerd, start it again: the stream loss and resume are logged once each, no traceback
    reaches stderr, and a pod on node1 is then seen exiting through the resumed event stream."""
    node1 = _node(node_guard, "node1")
    node1.stop()

    def logged(event: str) -> list[dict[str, Any]]:
        return [e for e in daemon.log_events() if e.get("event") == event and e.get("node") == "node1"]

    lost = daemon.wait_for(lambda: logged("event_stream_lost"), timeout=20, what="event_stream_lost")
    assert lost[0]["level"] == "warning" and lost[0]["error"]
    node1.start()
    daemon.wait_for(lambda: logged("event_stream_resumed"), timeout=30, what="event_stream_resumed")
    assert len(logged("event_stream_lost")) == 1
    daemon.apply(job_yaml("afterwards", "sleep 1", pod_spec={"nodeSelector": {"kubernetes.io/hostname": "node1"}}))
    daemon.wait_job("afterwards", timeout=60)
    pod = daemon.pods("afterwards")[0]["metadata"]["name"]
    assert [e for e in logged("docker_event") if e.get("pod") == pod and e.get("action") == "die"]
    text = daemon.log_text()
    assert "Traceback" not in text and "thread_crashed" not in text
