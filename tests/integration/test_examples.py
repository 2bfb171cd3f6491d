"""The examples the quickstart suggests run on real Docker nodes with only the local image (no registry)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from support.daemon import Daemon
from test_statefulsets import clean

EXAMPLES = Path(__file__).resolve().parents[2] / "config" / "examples"


def test_cronjob_daemonset_and_pi_examples_run_without_a_registry(daemon: Daemon) -> None:
    """hello-cronjob's template runs to Complete and greets, the node agent runs on every node, pi prints pi."""
    for name in ("hello-cronjob.yaml", "node-agent-daemonset.yaml", "pi-job.yaml"):
        daemon.ctl("apply", "-f", str(EXAMPLES / name), check=True)
    daemon.ctl("create", "job", "hello-now", "--from=cronjob/hello", check=True)
    daemon.wait_job("hello-now", timeout=60)
    assert "Hello from the Kubernetes cluster" in daemon.ctl("logs", "job/hello-now", check=True).stdout
    daemon.wait_job("pi", timeout=90)
    pi = daemon.ctl("logs", "job/pi", check=True).stdout.strip()
    assert pi.startswith("3.14159265358979323846264338327950288419716939937510") and pi.endswith("3421170679"), pi

    def agents_running() -> set[str]:
        pods = daemon.api("GET", "/api/v1/pods", params={"labelSelector": "app=node-agent"})["items"]
        return {p["spec"]["nodeName"] for p in pods if p["status"]["phase"] == "Running"}

    nodes = {n["metadata"]["name"] for n in daemon.api("GET", "/api/v1/nodes")["items"]}
    assert daemon.wait_for(lambda: agents_running() == nodes, timeout=60, what="a node-agent pod on every node")
    pod = daemon.api("GET", "/api/v1/pods", params={"labelSelector": "app=node-agent"})["items"][0]["metadata"]["name"]
    daemon.wait_for(lambda: " load " in daemon.ctl("logs", pod).stdout, timeout=20, what="the agent's first line")


def test_the_etl_example_reads_its_dsn_from_a_secret_and_its_query_from_a_configmap(daemon: Daemon) -> None:
    """etl-secret-cronjob: a manual run gets the DSN (env and a 0400 file) and the query file; its log shows no DSN."""
    daemon.ctl("apply", "-f", str(EXAMPLES / "etl-secret-cronjob.yaml"), check=True)
    daemon.ctl("create", "job", "etl-now", "--from=cronjob/etl-orders", check=True)
    daemon.wait_job("etl-now", timeout=90)
    out = daemon.ctl("logs", "job/etl-now", check=True).stdout
    assert "DSN from the Secret: 52 characters, host db.example:5432/warehouse" in out
    assert "batch size 5000; query:" in out and "SELECT region, sum(amount) FROM orders" in out
    assert "-r--------" in out and "dsn" in out  # defaultMode 0400
    assert "change-me" not in out


def test_the_statefulset_example_keeps_each_replicas_data(daemon: Daemon, docker_nodes: list[Any]) -> None:
    """kv-statefulset: three replicas in order; kv-1 deleted comes back counting its earlier ticks."""
    try:
        _kv_example(daemon)
    finally:
        daemon.stop()
        clean(docker_nodes)  # its volumes too


def _kv_example(daemon: Daemon) -> None:
    result = daemon.ctl("apply", "-f", str(EXAMPLES / "kv-statefulset.yaml"), check=True)
    assert "no cluster DNS" in result.stderr and "no size" in result.stderr

    def ready() -> bool:
        sts = daemon.api("GET", "/apis/apps/v1/namespaces/default/statefulsets/kv")
        return bool(sts) and sts["status"].get("availableReplicas") == 3

    daemon.wait_for(ready, timeout=90, what="3 available kv replicas")
    time.sleep(6)  # at least one tick written by kv-1
    daemon.ctl("delete", "pod", "kv-1", check=True)
    daemon.wait_for(ready, timeout=60, what="kv-1 back")
    line = daemon.wait_for(lambda: daemon.ctl("logs", "kv-1").stdout.strip(), timeout=20, what="kv-1's first line")
    count = int(line.split()[1])
    assert line.startswith("kv-1: ") and count >= 1, line
