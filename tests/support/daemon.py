"""A real `miniorch daemon` process for integration tests, and ways to drive it.

Starts the daemon on the test Docker nodes with short timings, talks to it with
`miniorch ctl` (a subprocess, as a user would) and with httpx for fast polling.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import IO, Any

import httpx
import yaml

MINIORCH = str(Path(sys.executable).with_name("miniorch"))

FAST_TIMING = {
    "job_backoff_initial_seconds": 1,
    "job_backoff_max_seconds": 4,
    "node_heartbeat_seconds": 0.5,
    "node_timeout_seconds": 3,
}


def _accepting(path: Path) -> bool:
    """Something listens on the unix socket (checked without leaking sockets)."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
        try:
            probe.connect(str(path))
        except OSError:
            return False
    return True


class Daemon:
    def __init__(
        self,
        workdir: Path,
        nodes: list[tuple[str, str]],
        timing: Mapping[str, float] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        self.workdir = workdir
        self.socket = workdir / "run" / "miniorch.sock"
        self.config_path = workdir / "config.yaml"
        self.log_path = workdir / "daemon.log"
        self.manifests = workdir / "jobs.d"
        self.manifests.mkdir(parents=True, exist_ok=True)
        config = {
            "state_dir": str(workdir / "state"),
            "manifests_dir": str(self.manifests),
            "api": {"socket": str(self.socket)},
            "nodes": [{"name": n, "url": u} for n, u in nodes],
            "timing": {**FAST_TIMING, **(timing or {})},
            "log": {"format": "json", "level": "debug"},
            **(extra or {}),
        }
        self.config_path.write_text(yaml.safe_dump(config))
        self.proc: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    # -- lifecycle --------------------------------------------------------
    def start(self, timeout: float = 60, env: dict[str, str] | None = None) -> None:
        """Start the daemon and wait until its API answers (60 s: migrations and first listings on a
        loaded 2-core CI machine took over 20 s)."""
        self._log = open(self.log_path, "ab")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            [MINIORCH, "daemon", "--config", str(self.config_path)],
            stdout=self._log,
            stderr=subprocess.STDOUT,
            env={**os.environ, **(env or {})},
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                self._log.close()
                raise RuntimeError(f"daemon exited with {self.proc.returncode}:\n{self.log_text()[-3000:]}")
            if _accepting(self.socket) and self.api("GET", "/version"):
                return
            time.sleep(0.05)
        self.proc.kill()  # a daemon that never answered must not outlive its test (nor hold its nodes)
        self.proc.wait()
        self._log.close()  # left open, it turns into a ResourceWarning error in whichever test runs next
        raise RuntimeError(f"daemon did not come up within {timeout} s:\n{self.log_text()[-3000:]}")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30) -> int:
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            code = self.proc.wait(timeout)
        finally:
            if self._log:
                self._log.close()
        return code

    def kill(self) -> None:
        self.stop(signal.SIGKILL)

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def log_events(self) -> list[dict[str, Any]]:
        out = []
        for line in self.log_text().splitlines():
            try:
                out.append(json.loads(line))
            except ValueError:
                continue
        return out

    # -- talking to it ----------------------------------------------------
    def api(self, method: str, path: str, **kw: Any) -> Any:
        # No TLS on a unix socket: httpx's default SSL contexts cost 17 ms of CPU per client, which
        # the benchmarks' 20-a-second polling took from the daemon and the engines on 2 cores.
        with httpx.Client(
            transport=httpx.HTTPTransport(uds=str(self.socket), verify=False),
            base_url="http://miniorch",
            timeout=10,
            verify=False,
        ) as c:
            resp = c.request(method, path, **kw)
        if resp.status_code == 404:
            return None
        resp.raise_for_status()
        return resp.json() if resp.headers.get("content-type", "").startswith("application/json") else resp.text

    def ctl(
        self, *args: str, input: str | None = None, check: bool = False, timeout: float = 120
    ) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, "MINIORCH_SOCKET": str(self.socket)}
        result = subprocess.run(
            [MINIORCH, "ctl", *args], capture_output=True, text=True, env=env, input=input, timeout=timeout
        )
        if check and result.returncode != 0:
            raise AssertionError(f"ctl {' '.join(args)} exited {result.returncode}: {result.stderr}")
        return result

    def apply(self, text: str, name: str = "manifest.yaml") -> subprocess.CompletedProcess[str]:
        path = self.workdir / name
        path.write_text(text)
        return self.ctl("apply", "-f", str(path), check=True)

    def job(self, name: str, namespace: str = "default") -> dict[str, Any] | None:
        result: dict[str, Any] | None = self.api("GET", f"/apis/batch/v1/namespaces/{namespace}/jobs/{name}")
        return result

    def pods(self, job: str) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = self.api("GET", "/api/v1/pods", params={"labelSelector": f"job-name={job}"})[
            "items"
        ]
        return sorted(items, key=lambda p: p["metadata"]["creationTimestamp"])

    def events(self, uid: str | None = None) -> list[dict[str, Any]]:
        """Events, oldest first; with `uid`, those of that object only (what `ctl describe` reads)."""
        params = {"fieldSelector": f"involvedObject.uid={uid}"} if uid else None
        items: list[dict[str, Any]] = self.api("GET", "/api/v1/events", params=params)["items"]
        return items

    def wait_job(self, name: str, condition: str = "Complete", timeout: float = 60) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            job = self.job(name)
            if job and any(
                c["type"] == condition and c["status"] == "True" for c in job["status"].get("conditions", [])
            ):
                return job
            time.sleep(0.1)
        raise AssertionError(
            f"job {name} did not reach {condition} in {timeout}s: {self.job(name)}\n{self.log_text()[-4000:]}"
        )

    def wait_for(self, predicate: Any, timeout: float = 30, what: str = "condition") -> Any:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = predicate()
            if value:
                return value
            time.sleep(0.1)
        raise AssertionError(f"timed out after {timeout}s waiting for {what}\n{self.log_text()[-3000:]}")


def job_yaml(
    name: str,
    command: str,
    *,
    image: str = "miniorch.local/busybox:latest",
    restart: str = "Never",
    parallelism: int | None = None,
    completions: int | None = None,
    backoff_limit: int | None = None,
    extra_spec: dict[str, Any] | None = None,
    pod_spec: dict[str, Any] | None = None,
    container: dict[str, Any] | None = None,
) -> str:
    spec: dict[str, Any] = {}
    if parallelism is not None:
        spec["parallelism"] = parallelism
    if completions is not None:
        spec["completions"] = completions
    if backoff_limit is not None:
        spec["backoffLimit"] = backoff_limit
    spec.update(extra_spec or {})
    spec["template"] = {
        "spec": {
            "restartPolicy": restart,
            "terminationGracePeriodSeconds": 1,
            "containers": [{"name": "c", "image": image, "command": ["sh", "-c", command], **(container or {})}],
            **(pod_spec or {}),
        }
    }
    return yaml.safe_dump(
        {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": name}, "spec": spec}, sort_keys=False
    )


def cronjob_yaml(schedule: str, zone: str = "Etc/UTC", suspend: bool = False, name: str = "cj") -> str:
    """A CronJob `name` of one busybox container, in `zone`."""
    return (
        f"apiVersion: batch/v1\nkind: CronJob\nmetadata: {{name: {name}}}\nspec:\n"
        f'  schedule: "{schedule}"\n  timeZone: {zone}\n  suspend: {str(suspend).lower()}\n'
        "  jobTemplate:\n    spec:\n      template:\n        spec:\n"
        "          restartPolicy: Never\n          containers: [{name: c, image: busybox}]\n"
    )
