"""Recovery figures: a daemon killed with SIGKILL mid-Job, and a node whose dockerd stops.

1. daemon: `kill -9` while a Job runs, restart at once; the time until the Job's next
   container starts (Docker `start` event), and until the API answers again.
2. node: a Job with pods on every node; the node holding some is stopped (its dockerd
   SIGTERMed, containers SIGKILLed); the time until every pod runs elsewhere.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import docker
from support.daemon import Daemon, job_yaml


class StartEvents:
    """Wall-clock times of Docker `start` events of miniorch containers, per Job, on every node."""

    def __init__(self, urls: list[str]) -> None:
        self.starts: list[tuple[float, str, str]] = []  # (unix time, job name, container name)
        self._lock = threading.Lock()
        self._clients = [docker.DockerClient(base_url=u, timeout=30) for u in urls]
        self._streams: list[Any] = []
        for client in self._clients:
            stream = client.events(decode=True, filters={"type": "container", "event": "start"})
            self._streams.append(stream)
            threading.Thread(target=self._watch, args=(stream,), daemon=True).start()

    def _watch(self, stream: Any) -> None:
        try:
            for ev in stream:
                attrs = ev.get("Actor", {}).get("Attributes", {})
                if attrs.get("job-name"):
                    with self._lock:
                        self.starts.append((ev["timeNano"] / 1e9, attrs["job-name"], attrs.get("name", "")))
        except Exception:  # noqa: BLE001 - the stream ends with an error when closed or the node stops
            return

    def first_after(self, job: str, t0: float, old: set[str]) -> float | None:
        """The first start after `t0` of a container of `job` not among `old` (names)."""
        with self._lock:
            times = [t for t, j, name in self.starts if j == job and t > t0 and name not in old]
        return min(times) if times else None

    def container_names(self, job: str) -> set[str]:
        """Names of the Job's containers on every node now (created by the daemon just killed)."""
        names: set[str] = set()
        for c in self._clients:
            for info in c.api.containers(all=True, filters={"label": f"job-name={job}"}):
                names.update(n.lstrip("/") for n in info["Names"])
        return names

    def close(self) -> None:
        for s in self._streams:
            s.close()
        for c in self._clients:
            c.close()


def _succeeded(d: Daemon, name: str) -> int:
    job = d.job(name) or {}
    return int(job.get("status", {}).get("succeeded") or 0)


def daemon_kill(d: Daemon, urls: list[str]) -> dict[str, Any]:
    """SIGKILL the daemon during a Job of 1-second pods; restart it; time to its first new pod's start."""
    name = "recover-kill"
    watcher = StartEvents(urls)
    time.sleep(0.3)
    d.api("POST", "/apply", json={"source": "bench", "text": job_yaml(name, "sleep 1", parallelism=3, completions=60)})
    d.wait_for(lambda: _succeeded(d, name) >= 6, timeout=120, what="6 pods done before the kill")
    d.kill()
    t0 = time.time()
    # A start the dead daemon asked for can still land after the kill: only containers
    # created by the restarted daemon count as progress.
    old = watcher.container_names(name)
    d.start(timeout=60)
    api_back = time.time() - t0
    deadline = time.monotonic() + 60
    while (first := watcher.first_after(name, t0, old)) is None and time.monotonic() < deadline:
        time.sleep(0.05)
    progress = None if first is None else first - t0
    d.wait_job(name, timeout=300)
    watcher.close()
    d.api("DELETE", f"/apis/batch/v1/namespaces/default/jobs/{name}")
    d.wait_for(lambda: d.job(name) is None, timeout=60, what="job deleted")
    return {
        "kill_to_api_s": round(api_back, 3),
        "kill_to_next_pod_start_s": None if progress is None else round(progress, 3),
        "job_completed_after_restart": True,
    }


def _running_elsewhere(d: Daemon, name: str, lost: str) -> int:
    pods = d.api("GET", "/api/v1/pods", params={"labelSelector": f"job-name={name}"})["items"]
    return sum(
        1
        for p in pods
        if p["status"]["phase"] == "Running"
        and p["spec"]["nodeName"] != lost
        and not p["metadata"].get("deletionTimestamp")
    )


def node_loss(d: Daemon, nodes: list[Any], timing: dict[str, float]) -> dict[str, Any]:
    """Stop the dockerd of a node holding pods of a 6-pod Job; time until all 6 run on the others."""
    name, count = "recover-node", 6
    d.api(
        "POST",
        "/apply",
        json={"source": "bench", "text": job_yaml(name, "sleep 600", parallelism=count, completions=count)},
    )

    def running() -> list[dict[str, Any]]:
        pods = d.api("GET", "/api/v1/pods", params={"labelSelector": f"job-name={name}"})["items"]
        return [p for p in pods if p["status"]["phase"] == "Running"]

    d.wait_for(lambda: len(running()) == count, timeout=120, what=f"{count} pods running")
    victim = nodes[-1]
    on_victim = sum(1 for p in running() if p["spec"]["nodeName"] == victim.name)
    t0 = time.monotonic()
    victim.stop()
    stopped = time.monotonic() - t0
    deadline = time.monotonic() + 120
    while _running_elsewhere(d, name, victim.name) < count and time.monotonic() < deadline:
        time.sleep(0.05)
    replaced = time.monotonic() - t0
    ok = _running_elsewhere(d, name, victim.name) >= count
    d.api("DELETE", f"/apis/batch/v1/namespaces/default/jobs/{name}")
    victim.start()
    d.wait_for(lambda: d.job(name) is None, timeout=120, what="job deleted")
    return {
        "node_timeout_seconds": timing["node_timeout_seconds"],
        "node_heartbeat_seconds": timing["node_heartbeat_seconds"],
        "pods_on_stopped_node": on_victim,
        "stop_call_s": round(stopped, 3),
        "stop_to_all_replaced_running_s": round(replaced, 3) if ok else None,
        "stopped_to_all_replaced_running_s": round(replaced - stopped, 3) if ok else None,
    }
