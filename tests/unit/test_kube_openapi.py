"""OpenAPI v2/v3 for the registry's kinds: the shapes kubectl reads (group-version-kind, patch
merge keys, fieldValidation on PATCH), and the real kubectl explaining a field from it."""

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

from miniorch import kinds
from miniorch.api.kube import openapi
from unit.test_kube_table import KUBECTL, _Api


def _resolve(doc: dict[str, Any], prop: dict[str, Any]) -> dict[str, Any]:
    ref = prop.get("$ref") or (prop.get("allOf") or [{}])[0].get("$ref")
    if not ref:
        return prop
    resolved: dict[str, Any] = doc["components"]["schemas"][ref.rsplit("/", 1)[1]]
    return resolved


def test_v3_batch_has_the_job_with_its_gvk_and_the_pod_templates_merge_keys() -> None:
    """Job carries x-kubernetes-group-version-kind; containers/env/volumes carry their merge key and strategy."""
    doc = openapi.v3("apis/batch/v1")
    assert doc is not None
    job = doc["components"]["schemas"]["io.k8s.api.batch.v1.Job"]
    assert job["x-kubernetes-group-version-kind"] == [{"group": "batch", "version": "v1", "kind": "Job"}]
    spec = _resolve(doc, job["properties"]["spec"])
    assert "Specifies the number of retries" in spec["properties"]["backoffLimit"]["description"]
    pod = doc["components"]["schemas"]["io.k8s.api.core.v1.PodSpec"]["properties"]
    assert (pod["containers"]["x-kubernetes-patch-merge-key"], pod["containers"]["x-kubernetes-patch-strategy"]) == (
        "name",
        "merge",
    )
    assert pod["volumes"]["x-kubernetes-patch-strategy"] == "merge,retainKeys"
    assert "x-kubernetes-patch-strategy" not in pod.get("tolerations", {})
    env = doc["components"]["schemas"]["io.k8s.api.core.v1.Container"]["properties"]["env"]
    assert env["x-kubernetes-patch-merge-key"] == "name"


def test_every_ref_resolves_and_every_kind_has_a_patch_or_list_path_with_its_gvk() -> None:
    """No dangling $ref in any group-version; workloads' PATCH takes fieldValidation and strategic merge."""
    for gv, infos in openapi.group_versions().items():
        doc = openapi.v3(gv)
        assert doc is not None
        text = json.dumps(doc)
        for ref in {part.split('"')[0] for part in text.split('"$ref": "#/components/schemas/')[1:]}:
            assert ref in doc["components"]["schemas"], (gv, ref)
        for info in infos:
            ops = [
                op
                for path in doc["paths"].values()
                for op in path.values()
                if isinstance(op, dict) and "x-kubernetes-action" in op
            ]
            mine = [op for op in ops if op["x-kubernetes-group-version-kind"]["kind"] == info.kind]
            assert any(op["x-kubernetes-action"] == "list" for op in mine), info.kind
            if info.workload:
                patch = next(op for op in mine if op["x-kubernetes-action"] == "patch")
                assert "application/strategic-merge-patch+json" in patch["requestBody"]["content"]
                assert any(p["name"] == "fieldValidation" and p["in"] == "query" for p in patch["parameters"])
    assert openapi.v3("apis/nope/v1") is None


def test_v2_is_swagger_with_definitions_for_every_kind() -> None:
    doc = openapi.v2()
    assert doc["swagger"] == "2.0"
    for info in kinds.REGISTRY:
        name = openapi.full_name(info.kind)
        assert doc["definitions"][name]["x-kubernetes-group-version-kind"][0]["kind"] == info.kind
    text = json.dumps(doc)
    for ref in {part.split('"')[0] for part in text.split('"$ref": "#/definitions/')[1:]}:
        assert ref in doc["definitions"], ref


class _WithOpenApi(_Api):
    def do_GET(self) -> None:
        path = urlsplit(self.path).path
        if not path.startswith("/openapi/"):
            return super().do_GET()
        if path == "/openapi/v3":
            body: Any = {"paths": {gv: {"serverRelativeURL": f"/openapi/v3/{gv}"} for gv in openapi.group_versions()}}
        elif path == "/openapi/v2":
            body = openapi.v2()
        else:
            body = openapi.v3(path.removeprefix("/openapi/v3/"))
        data = json.dumps(body).encode()
        self.send_response(200 if body is not None else 404)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


@pytest.fixture
def kubectl(tmp_path: Path) -> Iterator[list[str]]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _WithOpenApi)
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


def test_kubectl_explain_prints_a_jobs_field_with_its_description(kubectl: list[str]) -> None:
    """`kubectl explain job.spec.backoffLimit` (OpenAPI v3) names the field, its type and description."""
    out = subprocess.run([*kubectl, "explain", "job.spec.backoffLimit"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert "KIND:       Job" in out.stdout and "FIELD: backoffLimit <integer>" in out.stdout
    assert "Specifies the number of retries before marking this job failed." in out.stdout
    containers = subprocess.run(
        [*kubectl, "explain", "cronjob.spec.jobTemplate.spec.template.spec.containers"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert containers.returncode == 0, containers.stderr
    assert "FIELD: containers <[]Container>" in containers.stdout and "image" in containers.stdout


def test_lists_and_deletes_document_the_query_parameters_they_honour() -> None:
    """A client (or a fuzzer) learns labelSelector, fieldSelector, watch, ... from the document, typed as in v2 and v3."""
    v2_list = openapi.v2()["paths"]["/apis/batch/v1/namespaces/{namespace}/jobs"]["get"]
    assert {p["name"]: p["type"] for p in v2_list["parameters"]} == {
        "labelSelector": "string",
        "fieldSelector": "string",
        "watch": "boolean",
        "resourceVersion": "string",
        "timeoutSeconds": "integer",
    }
    doc = openapi.v3("apis/batch/v1")
    assert doc is not None
    delete = doc["paths"]["/apis/batch/v1/namespaces/{namespace}/jobs/{name}"]["delete"]
    assert [(p["name"], p["in"], p["schema"]) for p in delete["parameters"]] == [
        ("propagationPolicy", "query", {"type": "string"})
    ]
    assert not delete["requestBody"]["required"]  # DeleteOptions


def test_the_pod_log_subresource_is_documented_with_kubectl_logs_parameters() -> None:
    doc = openapi.v3("api/v1")
    assert doc is not None
    log = doc["paths"]["/api/v1/namespaces/{namespace}/pods/{name}/log"]
    assert "text/plain" in log["get"]["responses"]["200"]["content"]
    names = {p["name"] for p in log["get"]["parameters"]}
    assert {"container", "follow", "tailLines", "sinceSeconds", "sinceTime", "limitBytes"} <= names
    assert [p["name"] for p in log["parameters"]] == ["namespace", "name"]
