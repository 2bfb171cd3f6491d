"""The daemon's HTTP API without Docker, for fast tests: a real SQLite store in a temp folder,
the real Applier, and a NodeMonitor whose nodes are never probed (their engines do not exist).

`ApiHarness.client` is FastAPI's TestClient; `serve` runs the same app under uvicorn (unix socket
or TCP) in a thread, for tests of `miniorch ctl`'s own HTTP client.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import uvicorn
from fastapi import FastAPI

with warnings.catch_warnings():
    # Starlette 1.x would rather drive its TestClient with `httpx2`; the project has httpx (0.28).
    warnings.filterwarnings("ignore", "Using `httpx` with `starlette.testclient`")
    from fastapi.testclient import TestClient

from miniorch import clock as clock_mod
from miniorch.api.app import create_app
from miniorch.api.context import ApiContext
from miniorch.config import Config, PolicyConfig
from miniorch.controllers import leadership
from miniorch.controllers.nodes import NodeMonitor
from miniorch.controllers.objects import Applier
from miniorch.store.records import PodPhase, PodRecord
from miniorch.store.store import Store

__all__ = ["CRONJOB_YAML", "NODES", "ApiHarness", "TestClient", "harness", "job_yaml", "serve", "tcp_port"]

NODES = ("n1", "n2")


def job_yaml(name: str, labels: dict[str, str] | None = None, parallelism: int = 1) -> str:
    """A Job manifest (JSON is YAML) running `echo hi` once."""
    container = {"name": "main", "image": "busybox", "command": ["echo", "hi"]}
    return json.dumps(
        {
            "apiVersion": "batch/v1",
            "kind": "Job",
            "metadata": {"name": name, "labels": {"app": "demo", **(labels or {})}},
            "spec": {
                "parallelism": parallelism,
                "template": {"spec": {"restartPolicy": "Never", "containers": [container]}},
            },
        }
    )


CRONJOB_YAML = """apiVersion: batch/v1
kind: CronJob
metadata: {name: nightly}
spec:
  schedule: "0 3 * * *"
  jobTemplate:
    spec:
      template:
        spec:
          restartPolicy: Never
          containers: [{name: main, image: busybox, command: [date]}]
"""


@dataclass
class ApiHarness:
    store: Store
    monitor: NodeMonitor
    ctx: ApiContext
    app: FastAPI
    client: TestClient
    wakes: list[float] = field(default_factory=list)
    drained: list[str] = field(default_factory=list)

    def apply(self, text: str) -> Any:
        resp = self.client.post("/apply", json={"source": "test", "text": text})
        assert resp.status_code == 200, resp.text
        return resp.json()

    def pod(self, name: str, owner: dict[str, Any], **kw: Any) -> PodRecord:
        """Store a pod of `owner` (a rendered object) as the controllers would."""
        meta = owner["metadata"]
        defaults: dict[str, Any] = {
            "uid": f"uid-{name}",
            "name": name,
            "namespace": meta["namespace"],
            "owner_kind": owner["kind"],
            "owner_name": meta["name"],
            "owner_uid": meta["uid"],
            "node": "n1",
            "phase": PodPhase.RUNNING,
            "labels": {"job-name": meta["name"]},
            "created_at": dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
        }
        rec = PodRecord(**{**defaults, **kw})
        self.store.save_pod(rec)
        return rec


@contextmanager
def harness(
    tmp: Path, role: Callable[[], leadership.Role] | None = None, drain_left: list[str] | None = None
) -> Iterator[ApiHarness]:
    tmp.mkdir(parents=True, exist_ok=True)
    cfg = Config.model_validate(
        {"nodes": [{"name": n, "url": f"unix://{tmp}/{n}-absent.sock", "labels": {"zone": n}} for n in NODES]}
    )
    store = Store(f"sqlite:///{tmp / 'state.db'}")
    monitor = NodeMonitor(cfg, store, clock_mod.SystemClock(), on_change=lambda: None)
    wakes: list[float] = []
    drained: list[str] = []

    def wake() -> None:
        wakes.append(time.monotonic())

    def drain(node: str) -> list[str]:
        drained.append(node)
        return list(drain_left or [])

    applier = Applier(store, PolicyConfig(), wake, clock_mod.utcnow)
    ctx = ApiContext(store, monitor, applier, wake, drain=drain, role=role)
    app = create_app(ctx)
    try:
        with TestClient(app) as client:
            yield ApiHarness(store, monitor, ctx, app, client, wakes, drained)
    finally:
        monitor.close()
        store.close()


@contextmanager
def serve(app: Any, **where: Any) -> Iterator[uvicorn.Server]:
    """`app` (an ASGI app) under uvicorn in a thread for as long as the block runs;
    `where`: uds=PATH, or host= and port= (port 0: a free one, read from the server's sockets)."""
    config = uvicorn.Config(app, log_config=None, access_log=False, lifespan="off", **where)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="uvicorn-test", daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the test API server did not start"
        time.sleep(0.01)
    try:
        yield server
    finally:
        server.should_exit = True
        thread.join(10)


def tcp_port(server: uvicorn.Server) -> int:
    port: int = server.servers[0].sockets[0].getsockname()[1]
    return port
