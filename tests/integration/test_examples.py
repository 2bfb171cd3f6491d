"""The examples the quickstart suggests run on real Docker nodes with only the local image (no registry)."""

from __future__ import annotations

from pathlib import Path

from support.daemon import Daemon

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
        pods = daemon.api("GET", "/api/pods", params={"selector": "app=node-agent"})["items"]
        return {p["spec"]["nodeName"] for p in pods if p["status"]["phase"] == "Running"}

    nodes = {n["metadata"]["name"] for n in daemon.api("GET", "/api/nodes")["items"]}
    assert daemon.wait_for(lambda: agents_running() == nodes, timeout=60, what="a node-agent pod on every node")
    pod = daemon.api("GET", "/api/pods", params={"selector": "app=node-agent"})["items"][0]["metadata"]["name"]
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
