"""`as=Table`: the registry's columns and row printers as a meta.k8s.io/v1 Table, checked against
the Table shape and printed by the real /usr/bin/kubectl from a stand-in API server."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from miniorch import kinds
from miniorch.api.kube import table
from miniorch.cli import output
from unit.test_output import NOW, job, pod, ts

KUBECTL = "/usr/bin/kubectl"


def _ds(name: str) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "DaemonSet",
        "metadata": {"name": name, "namespace": "default", "creationTimestamp": ts(300), "uid": "u-ds"},
        "spec": {
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "spec": {"nodeSelector": {"disk": "ssd"}, "containers": [{"name": "agent", "image": "busybox"}]}
            },
        },
        "status": {
            "desiredNumberScheduled": 3,
            "currentNumberScheduled": 3,
            "numberReady": 2,
            "updatedNumberScheduled": 3,
            "numberAvailable": 2,
        },
    }


def _jobs() -> list[dict[str, Any]]:
    done = job("pi", 1, 1, 600, 30, ("Complete",))
    done["metadata"].update(uid="u-1", labels={"app": "pi"})
    done["spec"]["template"] = {"spec": {"containers": [{"name": "main", "image": "busybox:1"}]}}
    running = job("sleeper", 0, 3, 90, None)
    running["metadata"]["uid"] = "u-2"
    return [done, running]


def test_a_job_table_has_kubectls_columns_and_wide_ones_at_priority_1() -> None:
    """Job: Name Status Completions Duration Age at priority 0; Containers Images Selector at 1; rows carry metadata."""
    result = table.as_table("Job", _jobs(), NOW)
    assert (result["kind"], result["apiVersion"]) == ("Table", "meta.k8s.io/v1")
    columns = [(c["name"], c["type"], c["format"], c["priority"]) for c in result["columnDefinitions"]]
    assert columns == [
        ("Name", "string", "name", 0),
        ("Status", "string", "", 0),
        ("Completions", "string", "", 0),
        ("Duration", "string", "", 0),
        ("Age", "string", "", 0),
        ("Containers", "string", "", 1),
        ("Images", "string", "", 1),
        ("Selector", "string", "", 1),
    ]
    assert all(c["description"] for c in result["columnDefinitions"])
    first, second = result["rows"]
    assert first["cells"] == [
        "pi",
        "Complete",
        "1/1",
        "30s",
        "10m",
        "main",
        "busybox:1",
        "batch.kubernetes.io/controller-uid=u-1",
    ]
    assert second["cells"][:5] == ["sleeper", "Running", "0/3", "90s", "90s"]
    assert first["object"] == {
        "kind": "PartialObjectMetadata",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": _jobs()[0]["metadata"],
    }


def test_counts_are_integer_columns_and_include_object_picks_the_row_object() -> None:
    """DaemonSet counts are integer cells (as Kubernetes' printer); includeObject=Object/None as asked."""
    result = table.as_table("DaemonSet", [_ds("agent")], NOW, include="Object", list_meta={"resourceVersion": "7"})
    types = {c["name"]: c["type"] for c in result["columnDefinitions"]}
    assert types["Desired"] == types["Up-to-date"] == "integer" and types["Node Selector"] == "string"
    assert result["rows"][0]["cells"][:7] == ["agent", 3, 3, 2, 3, 2, "disk=ssd"]
    assert result["rows"][0]["object"]["spec"]["selector"] == {"matchLabels": {"app": "agent"}}
    assert result["metadata"] == {"resourceVersion": "7"}
    assert "object" not in table.as_table("DaemonSet", [_ds("agent")], NOW, include="None")["rows"][0]


def test_every_registered_kind_gives_a_table_whose_cells_match_its_columns() -> None:
    """Each registry kind: one cell per column definition, its plain columns as ctl get prints them."""
    for info in kinds.REGISTRY:
        result = table.as_table(info.kind, [], NOW)
        names = [c["name"].upper() for c in result["columnDefinitions"] if c["priority"] == 0]
        assert names == list(info.columns.headers), info.kind
    pods = table.as_table("Pod", [pod("p", "Running", {"running": {}}, True, 60)], NOW)
    assert len(pods["rows"][0]["cells"]) == len(pods["columnDefinitions"])


@pytest.mark.parametrize(
    ("accept", "expected"),
    [
        (
            "application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json",
            True,
        ),
        ("application/json; as=Table; v=v1; g=meta.k8s.io", True),
        ("application/json;as=Table;v=v1beta1;g=meta.k8s.io", False),
        ("application/json;as=PartialObjectMetadataList;v=v1;g=meta.k8s.io", False),
        ("application/json", False),
        ("", False),
        ("application/json;as=Table;v=v1;g=example.com", False),
    ],
)
def test_wants_table_reads_the_accept_header_as_the_api_server_does(accept: str, expected: bool) -> None:
    """Only a meta.k8s.io/v1 Table media range asks for a Table."""
    assert table.wants_table(accept) is expected


# -- the real kubectl, against a stand-in server that serves discovery and these Tables ---------------
def _resources(group_version: str) -> dict[str, Any]:
    served = [i for i in kinds.REGISTRY if i.api_version == group_version]
    return {
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": group_version,
        "resources": [
            {
                "name": i.plural,
                "singularName": i.singular,
                "namespaced": i.namespaced,
                "kind": i.kind,
                "verbs": ["get", "list"],
                "shortNames": list(i.short),
            }
            for i in served
        ],
    }


class _Api(BaseHTTPRequestHandler):
    objects: dict[str, list[dict[str, Any]]] = {}
    now: dt.datetime = NOW

    def log_message(self, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        path = urlsplit(self.path).path
        groups = sorted({i.api_group for i in kinds.REGISTRY if i.api_group})
        if path == "/version":  # kubectl's dispatcher picks its version by the server's
            body: Any = {"major": "1", "minor": "32", "gitVersion": "v1.32.0"}
        elif path == "/api":
            body = {"kind": "APIVersions", "versions": ["v1"]}
        elif path == "/apis":
            body = {
                "kind": "APIGroupList",
                "apiVersion": "v1",
                "groups": [
                    {
                        "name": g,
                        "versions": [{"groupVersion": f"{g}/v1", "version": "v1"}],
                        "preferredVersion": {"groupVersion": f"{g}/v1", "version": "v1"},
                    }
                    for g in groups
                ],
            }
        elif path in ("/api/v1", *(f"/apis/{g}/v1" for g in groups)):
            body = _resources(path.removeprefix("/apis/").removeprefix("/api/"))
        else:
            plural = path.rsplit("/", 1)[1]
            info = next(i for i in kinds.REGISTRY if i.plural == plural)
            assert table.wants_table(self.headers.get("Accept", ""))
            body = table.as_table(info.kind, self.objects.get(info.kind, []), self.now)
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


@pytest.fixture
def api(tmp_path: Path) -> Iterator[list[str]]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Api)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    _Api.now = dt.datetime.now(dt.UTC)
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


def _kubectl(base: list[str], *args: str) -> list[list[str]]:
    out = subprocess.run([*base, *args], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    return [line.split() for line in out.stdout.splitlines()]


def test_kubectl_get_prints_the_table_with_its_columns_and_wide_columns(api: list[str]) -> None:
    """`kubectl get jobs` prints our columns and cells; `-o wide` adds the priority-1 columns."""
    now = _Api.now
    jobs = _jobs()
    for j in jobs:
        j["metadata"]["creationTimestamp"] = (now - dt.timedelta(minutes=10)).strftime("%Y-%m-%dT%H:%M:%SZ")
    _Api.objects = {"Job": jobs, "DaemonSet": [_ds("agent")]}
    lines = _kubectl(api, "get", "jobs")
    assert lines[0] == ["NAME", "STATUS", "COMPLETIONS", "DURATION", "AGE"]
    assert lines[1][:4] == ["pi", "Complete", "1/1", "30s"] and lines[1][4] == "10m"
    wide = _kubectl(api, "get", "jobs", "-o", "wide")
    assert wide[0] == ["NAME", "STATUS", "COMPLETIONS", "DURATION", "AGE", "CONTAINERS", "IMAGES", "SELECTOR"]
    assert wide[1][5:] == ["main", "busybox:1", "batch.kubernetes.io/controller-uid=u-1"]
    ds = _kubectl(api, "get", "ds", "--show-labels", "-A")
    assert ds[0] == [
        "NAMESPACE",
        "NAME",
        "DESIRED",
        "CURRENT",
        "READY",
        "UP-TO-DATE",
        "AVAILABLE",
        "NODE",
        "SELECTOR",
        "AGE",
        "LABELS",
    ]
    assert ds[1][:8] == ["default", "agent", "3", "3", "2", "3", "2", "disk=ssd"]


def test_ctl_prints_an_older_daemons_table_as_the_daemons_own_printing() -> None:
    """A daemon that does not print lists answers ctl's request with its Table: ctl prints its cells."""
    from miniorch.cli import getcmd

    class OlderDaemon:
        def list_printed(self, kind: str, namespace: Any, selector: Any, printing: dict[str, bool]) -> Any:
            assert printing["showNamespace"]
            return table.as_table(kind, _jobs(), NOW, include="Metadata")

    printing = {"showNamespace": True, "showLabels": False, "showKind": False, "noHeaders": False}
    q = getcmd.Query(["jobs"], None, None, None)
    blocks = q.read(OlderDaemon(), None, printing)  # type: ignore[arg-type]
    flags = {"all_namespaces": True, "show_labels": False, "show_kind": False, "no_headers": False}
    text = getcmd.render(q, blocks, None, None, NOW, **flags)
    assert text == output.render("Job", _jobs(), None, NOW, show_namespace=True)
    assert text.splitlines()[1].split()[:3] == ["default", "pi", "Complete"]
