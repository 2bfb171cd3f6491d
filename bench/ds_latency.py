"""DaemonSet figures: relabel -> pod running, and a rolling update across the nodes.

1. relabel: a DaemonSet with `nodeSelector: {bench: "on"}`; `ctl label node node1 bench=on`,
   then the time until the pod there is Running and ready (API polled every 20 ms); the label
   is removed and the pod gone before the next round. Median / max of N rounds.
2. rollout: a DaemonSet on every node whose pod is ready at once; the time from applying a new
   env value to `updatedNumberScheduled == numberAvailable == desired` (default maxUnavailable 1).

    MINIORCH_TEST_NODES=... .venv/bin/python bench/ds_latency.py [--rounds 10]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

import yaml  # noqa: E402
from support import dockernodes  # noqa: E402
from support.daemon import Daemon  # noqa: E402

AGENT = "trap 'exit 0' TERM; while true; do sleep 0.2; done"
MERGE_PATCH = {"Content-Type": "application/merge-patch+json"}


def _labels(labels: dict[str, str | None]) -> str:
    """A merge patch of a Node's labels (None removes one), as `ctl label node` sends it."""
    return json.dumps({"metadata": {"labels": labels}})


def ds(name: str, env: str, node_selector: dict[str, str] | None = None) -> str:
    spec: dict[str, Any] = {
        "terminationGracePeriodSeconds": 2,
        "containers": [
            {
                "name": "agent",
                "image": dockernodes.TEST_IMAGE,
                "imagePullPolicy": "Never",
                "command": ["sh", "-c", AGENT],
                "env": [{"name": "VERSION", "value": env}],
            }
        ],
    }
    if node_selector:
        spec["nodeSelector"] = node_selector
    body = {
        "selector": {"matchLabels": {"app": name}},
        "template": {"metadata": {"labels": {"app": name}}, "spec": spec},
    }
    return yaml.safe_dump({"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": name}, "spec": body})


def ready_on(d: Daemon, app: str, node: str) -> bool:
    for p in d.api("GET", "/api/v1/pods", params={"labelSelector": f"app={app}"})["items"]:
        cs = p["status"]["containerStatuses"][0]
        if p["spec"]["nodeName"] == node and p["status"]["phase"] == "Running" and cs["ready"]:
            return not p["metadata"].get("deletionTimestamp")
    return False


def wait(pred: Any, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not pred():
        if time.monotonic() > deadline:
            raise TimeoutError("condition not met")
        time.sleep(0.02)


def relabel(d: Daemon, rounds: int) -> dict[str, Any]:
    d.api("POST", "/apply", json={"source": "bench", "text": ds("picky", "1", {"bench": "on"})})
    times = []
    for _ in range(rounds):
        start = time.monotonic()
        d.api("PATCH", "/api/v1/nodes/node1", content=_labels({"bench": "on"}), headers=MERGE_PATCH)
        wait(lambda: ready_on(d, "picky", "node1"))
        times.append(time.monotonic() - start)
        d.api("PATCH", "/api/v1/nodes/node1", content=_labels({"bench": None}), headers=MERGE_PATCH)
        wait(lambda: ds_status(d, "picky").get("currentNumberScheduled") == 0 and not live(d, "picky"))
    return {"rounds": rounds, "median_s": round(statistics.median(times), 3), "max_s": round(max(times), 3)}


def ds_status(d: Daemon, name: str) -> dict[str, Any]:
    obj = d.api("GET", f"/apis/apps/v1/namespaces/default/daemonsets/{name}")
    return dict(obj["status"]) if obj else {}


def live(d: Daemon, app: str) -> list[Any]:
    items = d.api("GET", "/api/v1/pods", params={"labelSelector": f"app={app}"})["items"]
    return [p for p in items if p["status"]["phase"] in ("Pending", "Running", "Unknown")]


def rollout(d: Daemon, nodes: int) -> dict[str, Any]:
    d.api("POST", "/apply", json={"source": "bench", "text": ds("roll", "1")})
    wait(lambda: ds_status(d, "roll").get("numberAvailable") == nodes)
    start = time.monotonic()
    d.api("POST", "/apply", json={"source": "bench", "text": ds("roll", "2")})
    wait(
        lambda: (
            (s := ds_status(d, "roll")).get("observedGeneration") == 2
            and s.get("updatedNumberScheduled") == s.get("numberAvailable") == nodes
        )
    )
    return {"nodes": nodes, "seconds": round(time.monotonic() - start, 2)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=10)
    args = parser.parse_args()
    nodes = dockernodes.parse_nodes_env(os.environ[dockernodes.ENV_NODES])
    with tempfile.TemporaryDirectory(prefix="miniorch-ds-bench-") as tmp:
        d = Daemon(Path(tmp), [(n.name, n.url) for n in nodes])
        d.start()
        try:
            result = {"relabel_to_ready": relabel(d, args.rounds), "rolling_update": rollout(d, len(nodes))}
        finally:
            d.stop()
            for node in nodes:
                with dockernodes.client(node.url) as c:
                    for ctr in c.containers.list(all=True, filters={"label": "miniorch.io/managed=true"}):
                        ctr.remove(force=True)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
