"""The real kubectl's client-side apply against a stand-in server that stores Jobs and applies
PATCH with `smp.strategic_merge`: kubectl computes the three-way patch from our OpenAPI v3
(merge keys, last-applied annotation), the merge gives the edited object."""

from __future__ import annotations

import json
import subprocess
import threading
from collections.abc import Iterator
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from miniorch.api.kube import smp
from unit.test_kube_openapi import _WithOpenApi
from unit.test_kube_table import KUBECTL

JOBS = "/apis/batch/v1/namespaces/default/jobs"


class _Store(_WithOpenApi):
    jobs: dict[str, dict[str, Any]] = {}
    patches: list[tuple[str, str, dict[str, Any]]] = []

    def _send(self, code: int, body: Any) -> None:
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _body(self) -> dict[str, Any]:
        body: dict[str, Any] = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        return body

    def do_GET(self) -> None:
        path = urlsplit(self.path).path
        if not path.startswith(JOBS + "/"):
            return super().do_GET()
        name = path.rsplit("/", 1)[1]
        if name not in self.jobs:
            return self._send(
                404,
                {
                    "kind": "Status",
                    "apiVersion": "v1",
                    "status": "Failure",
                    "reason": "NotFound",
                    "code": 404,
                    "message": f'jobs.batch "{name}" not found',
                    "details": {"name": name, "group": "batch", "kind": "jobs"},
                },
            )
        self._send(200, self.jobs[name])

    def do_POST(self) -> None:
        obj = self._body()
        obj["metadata"].update(uid="u-1", resourceVersion="1", namespace="default")
        self.jobs[obj["metadata"]["name"]] = obj
        self._send(201, obj)

    def do_PATCH(self) -> None:
        url = urlsplit(self.path)
        name = url.path.rsplit("/", 1)[1]
        patch = self._body()
        self.patches.append((self.headers["Content-Type"], url.query, patch))
        try:
            self.jobs[name] = smp.strategic_merge(self.jobs[name], patch, "Job")
        except ValueError as exc:
            return self._send(
                400,
                {
                    "kind": "Status",
                    "apiVersion": "v1",
                    "status": "Failure",
                    "reason": "BadRequest",
                    "code": 400,
                    "message": str(exc),
                },
            )
        self._send(200, self.jobs[name])


@pytest.fixture
def kubectl(tmp_path: Path) -> Iterator[list[str]]:
    _Store.jobs, _Store.patches = {}, []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Store)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    config = tmp_path / "kubeconfig"
    config.write_text("apiVersion: v1\nkind: Config\nclusters: []\ncontexts: []\nusers: []\n")
    yield [
        KUBECTL,
        "--kubeconfig",
        str(config),
        "--server",
        f"http://127.0.0.1:{server.server_port}",
        "--cache-dir",
        str(tmp_path / "cache"),
    ]
    server.shutdown()
    server.server_close()


def _manifest(image: str, env: list[dict[str, str]], parallelism: int, side: bool) -> dict[str, Any]:
    containers: list[dict[str, Any]] = [{"name": "main", "image": image, "env": env}]
    if side:
        containers.append({"name": "side", "image": "busybox:2"})
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": "pi", "labels": {"app": "pi"}},
        "spec": {
            "parallelism": parallelism,
            "template": {"spec": {"restartPolicy": "Never", "containers": containers}},
        },
    }


def test_kubectl_apply_twice_patches_the_job_by_merge_keys(kubectl: list[str], tmp_path: Path) -> None:
    """Second apply (image, one env value, parallelism edited; a container and an env var dropped) sends a
    strategic merge patch with $setElementOrder that merges into exactly the edited object, server-side fields kept."""
    path = tmp_path / "job.yaml"
    env = [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}]
    path.write_text(yaml.safe_dump(_manifest("busybox:1", env, 1, True)))
    first = subprocess.run([*kubectl, "apply", "-f", str(path)], capture_output=True, text=True, timeout=60)
    assert first.returncode == 0 and "job.batch/pi created" in first.stdout, first.stderr
    _Store.jobs["pi"]["status"] = {"active": 1}  # what the server added meanwhile stays
    _Store.jobs["pi"]["spec"]["template"]["spec"]["containers"][0]["imagePullPolicy"] = "IfNotPresent"

    path.write_text(yaml.safe_dump(_manifest("busybox:9", [{"name": "B", "value": "3"}], 3, False)))
    second = subprocess.run([*kubectl, "apply", "-f", str(path)], capture_output=True, text=True, timeout=60)
    assert second.returncode == 0 and "job.batch/pi configured" in second.stdout, second.stderr

    content_type, query, patch = _Store.patches[-1]
    assert content_type == "application/strategic-merge-patch+json"
    assert "fieldValidation=Strict" in query
    assert "$setElementOrder/containers" in patch["spec"]["template"]["spec"]
    job = _Store.jobs["pi"]
    assert job["spec"]["parallelism"] == 3 and job["status"] == {"active": 1}
    assert job["spec"]["template"]["spec"]["containers"] == [
        {"name": "main", "image": "busybox:9", "env": [{"name": "B", "value": "3"}], "imagePullPolicy": "IfNotPresent"}
    ]
    applied = json.loads(job["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"])
    assert applied["spec"]["parallelism"] == 3
