"""The Kubernetes API over a SQLite store (FastAPI TestClient): discovery, resources, patches,
resourceVersion conflicts, watch and the Status errors kubectl and client libraries read."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest
from support.apiapp import CRONJOB_YAML, ApiHarness, harness, job_yaml

from miniorch.store import versions
from miniorch.store.records import PodPhase

JOBS = "/apis/batch/v1/namespaces/default/jobs"
MERGE = {"content-type": "application/merge-patch+json"}
JSON_PATCH = {"content-type": "application/json-patch+json"}


@pytest.fixture
def api(tmp_path: Path) -> Any:
    with harness(tmp_path) as h:
        yield h


def _create(api: ApiHarness, name: str = "pi", **kw: Any) -> dict[str, Any]:
    resp = api.client.post(JOBS, json=json.loads(job_yaml(name, **kw)))
    assert resp.status_code == 201, resp.text
    body: dict[str, Any] = resp.json()
    return body


def _watch(api: ApiHarness, path: str) -> list[dict[str, Any]]:
    with api.client.stream("GET", path) as resp:
        assert resp.status_code == 200, resp.read()
        return [json.loads(line) for line in resp.iter_lines() if line.strip()]


def test_version_names_a_kubernetes_minor_kubectl_accepts_and_keeps_miniorchs_own(api: ApiHarness) -> None:
    body = api.client.get("/version").json()
    assert (body["major"], body["minor"]) == ("1", "32")
    assert body["gitVersion"].startswith("v1.32.") and body["version"]


def test_discovery_lists_every_registry_kind_with_its_verbs_scope_and_short_names(api: ApiHarness) -> None:
    assert api.client.get("/api").json()["versions"] == ["v1"]
    groups = {g["name"]: g["preferredVersion"]["groupVersion"] for g in api.client.get("/apis").json()["groups"]}
    assert groups["batch"] == "batch/v1" and groups["apps"] == "apps/v1"
    batch = {r["name"]: r for r in api.client.get("/apis/batch/v1").json()["resources"]}
    assert batch["cronjobs"]["shortNames"] == ["cj"] and batch["cronjobs"]["namespaced"]
    assert set(batch["jobs"]["verbs"]) == {"create", "delete", "get", "list", "patch", "update", "watch"}
    core = {r["name"]: r for r in api.client.get("/api/v1").json()["resources"]}
    assert core["nodes"]["namespaced"] is False and "patch" in core["nodes"]["verbs"]
    assert core["pods"]["verbs"] == ["delete", "get", "list", "watch"] and "pods/log" in core
    assert core["events"]["verbs"] == ["list", "watch"] and "namespaces" in core
    assert api.client.get("/apis/nope.io/v1").status_code == 404


def test_a_created_job_reads_back_with_its_resource_version_and_lists_carry_one(api: ApiHarness) -> None:
    made = _create(api)
    got = api.client.get(f"{JOBS}/pi").json()
    assert got["metadata"]["uid"] == made["metadata"]["uid"]
    assert int(got["metadata"]["resourceVersion"]) > 0
    listed = api.client.get(JOBS).json()
    assert listed["kind"] == "JobList" and [i["metadata"]["name"] for i in listed["items"]] == ["pi"]
    assert int(listed["metadata"]["resourceVersion"]) >= int(got["metadata"]["resourceVersion"])
    assert api.wakes, "the controllers are woken as after ctl apply"


def test_creating_an_existing_job_is_already_exists(api: ApiHarness) -> None:
    _create(api)
    resp = api.client.post(JOBS, json=json.loads(job_yaml("pi")))
    assert resp.status_code == 409
    assert (resp.json()["reason"], resp.json()["message"]) == ("AlreadyExists", 'jobs.batch "pi" already exists')


def test_an_invalid_job_is_422_with_one_cause_per_field(api: ApiHarness) -> None:
    bad = json.loads(job_yaml("bad"))
    bad["spec"]["parallelism"] = -1
    bad["spec"]["backoffLimit"] = "x"
    resp = api.client.post(JOBS, json=bad)
    assert resp.status_code == 422
    body = resp.json()
    assert body["reason"] == "Invalid" and body["details"]["name"] == "bad"
    fields = sorted(c["field"] for c in body["details"]["causes"])
    assert fields == ["spec.backoffLimit", "spec.parallelism"]
    assert api.client.get(f"{JOBS}/bad").status_code == 404, "nothing half-written"


@pytest.mark.parametrize(
    ("headers", "body"),
    [
        (MERGE, {"spec": {"parallelism": 3}}),
        (JSON_PATCH, [{"op": "replace", "path": "/spec/parallelism", "value": 3}]),
    ],
)
def test_a_patch_changes_the_spec_through_the_applier(api: ApiHarness, headers: dict[str, str], body: Any) -> None:
    before = _create(api)
    resp = api.client.patch(f"{JOBS}/pi", content=json.dumps(body), headers=headers)
    assert resp.status_code == 200, resp.text
    after = resp.json()
    assert after["spec"]["parallelism"] == 3 and after["metadata"]["generation"] == 2
    assert int(after["metadata"]["resourceVersion"]) > int(before["metadata"]["resourceVersion"])


def test_a_patch_of_an_immutable_field_is_invalid_and_changes_nothing(api: ApiHarness) -> None:
    _create(api)
    patch = [{"op": "replace", "path": "/spec/template/spec/containers/0/image", "value": "alpine"}]
    resp = api.client.patch(f"{JOBS}/pi", content=json.dumps(patch), headers=JSON_PATCH)
    assert resp.status_code == 422 and "immutable" in resp.json()["message"]
    assert api.client.get(f"{JOBS}/pi").json()["spec"]["template"]["spec"]["containers"][0]["image"] == "busybox"


def test_an_unknown_patch_type_is_415(api: ApiHarness) -> None:
    _create(api)
    resp = api.client.patch(f"{JOBS}/pi", content="{}", headers={"content-type": "application/apply-patch+yaml"})
    assert resp.status_code == 415 and resp.json()["reason"] == "UnsupportedMediaType"


def test_a_put_with_a_stale_resource_version_is_a_conflict(api: ApiHarness) -> None:
    got = _create(api)
    api.client.patch(f"{JOBS}/pi", content=json.dumps({"spec": {"parallelism": 2}}), headers=MERGE)
    got["spec"]["parallelism"] = 4
    resp = api.client.put(f"{JOBS}/pi", json=got)
    assert resp.status_code == 409 and resp.json()["reason"] == "Conflict"
    fresh = api.client.get(f"{JOBS}/pi").json()
    fresh["spec"]["parallelism"] = 4
    assert api.client.put(f"{JOBS}/pi", json=fresh).json()["spec"]["parallelism"] == 4


@pytest.mark.parametrize(
    ("method", "path", "code", "reason"),
    [
        ("GET", f"{JOBS}/nope", 404, "NotFound"),
        ("GET", "/apis/batch/v1/namespaces/default/frobs", 404, "NotFound"),
        ("POST", "/api/v1/nodes", 405, "MethodNotAllowed"),
        ("POST", "/api/v1/namespaces/default/pods", 405, "MethodNotAllowed"),
        ("GET", "/api/v1/namespaces/default/pods?fieldSelector=bogus%3D1", 400, "BadRequest"),
        ("GET", f"{JOBS}?labelSelector=a%20in%20(", 400, "BadRequest"),
        ("GET", f"{JOBS}?watch=1&resourceVersion=abc", 400, "BadRequest"),
    ],
)
def test_errors_on_kubernetes_paths_are_status_objects(
    api: ApiHarness, method: str, path: str, code: int, reason: str
) -> None:
    resp = api.client.request(method, path, json={})
    assert resp.status_code == code
    assert (resp.json()["kind"], resp.json()["reason"], resp.json()["code"]) == ("Status", reason, code)


def test_miniorchs_own_routes_keep_their_message_errors(api: ApiHarness) -> None:
    resp = api.client.post("/api/dry-run", json={"source": "bad.yaml", "text": "kind: ["})
    assert resp.status_code == 422 and "kind" not in resp.json() and "bad.yaml" in resp.json()["message"]


@pytest.mark.parametrize("path", ["/api/objects/jobs", "/api/pods", "/api/events", "/api/nodes"])
def test_the_old_private_object_routes_are_gone(api: ApiHarness, path: str) -> None:
    """ctl reads everything through the Kubernetes API now."""
    assert api.client.get(path).status_code == 404


def test_label_and_field_selectors_narrow_lists(api: ApiHarness) -> None:
    a, _ = _create(api, "a", labels={"tier": "x"}), _create(api, "b")
    api.pod("a-1", a, node="n1")
    api.pod("a-2", a, node="n2", phase=PodPhase.SUCCEEDED)

    def names(path: str) -> list[str]:
        return [i["metadata"]["name"] for i in api.client.get(path).json()["items"]]

    assert names("/apis/batch/v1/jobs?labelSelector=tier%3Dx") == ["a"]
    assert names(f"{JOBS}?fieldSelector=metadata.name!%3Da") == ["b"]
    assert names("/api/v1/pods?fieldSelector=spec.nodeName%3Dn2") == ["a-2"]
    assert names("/api/v1/namespaces/default/pods?fieldSelector=status.phase%3DRunning") == ["a-1"]
    assert names("/api/v1/namespaces/other/pods") == []


_DAEMONSET = """
apiVersion: apps/v1
kind: DaemonSet
metadata: {{name: a}}
spec:
  selector: {{matchLabels: {{app: a}}}}
  template:
    metadata: {{labels: {{app: a}}}}
    spec:
      containers: [{{name: main, image: {image}}}]
"""


def test_a_pod_list_shows_each_write_of_a_pod_and_of_its_owner(api: ApiHarness) -> None:
    """Lists are answered from the served cache: a new phase, and a new template image, show at once."""
    api.apply(_DAEMONSET.format(image="busybox"))
    owner = api.client.get("/apis/apps/v1/namespaces/default/daemonsets/a").json()
    rec = api.pod("a-1", owner)

    def pod() -> dict[str, Any]:
        items: list[dict[str, Any]] = api.client.get("/api/v1/namespaces/default/pods").json()["items"]
        assert [i["metadata"]["name"] for i in items] == ["a-1"]
        return items[0]

    assert pod()["status"]["phase"] == "Running"
    api.store.save_pod(dataclasses.replace(rec, phase=PodPhase.SUCCEEDED, exit_code=0))
    assert pod()["status"]["phase"] == "Succeeded"
    api.apply(_DAEMONSET.format(image="other:1"))
    assert pod()["spec"]["containers"][0]["image"] == "other:1"
    assert pod()["status"]["phase"] == "Succeeded"


def test_a_table_carries_the_row_objects_include_object_asks_for(api: ApiHarness) -> None:
    job = _create(api, "a")
    api.pod("a-1", job)
    accept = {"accept": "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"}
    pods = "/api/v1/namespaces/default/pods"

    def row(query: str) -> dict[str, Any]:
        resp = api.client.get(f"{pods}{query}", headers=accept)
        assert resp.status_code == 200, resp.text
        rows: list[dict[str, Any]] = resp.json()["rows"]
        assert len(rows) == 1 and rows[0]["cells"][0] == "a-1"
        return rows[0]

    assert row("")["object"]["kind"] == "PartialObjectMetadata"
    assert row("")["object"]["metadata"]["labels"] == {"job-name": "a"}
    assert "object" not in row("?includeObject=None")
    assert row("?includeObject=Object")["object"]["status"]["phase"] == "Running"
    bad = api.client.get(f"{pods}?includeObject=All", headers=accept)
    assert bad.status_code == 400 and bad.json()["kind"] == "Status" and "includeObject" in bad.json()["message"]


TABLE = {"accept": "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"}


def _table(api: ApiHarness, path: str, query: str = "") -> dict[str, Any]:
    resp = api.client.get(f"{path}{query}", headers=TABLE)
    assert resp.status_code == 200, resp.text
    body: dict[str, Any] = resp.json()
    return body


def test_job_and_pod_tables_from_kept_rows_are_the_tables_of_the_objects(
    api: ApiHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Kept rows answer exactly what rendering every object answers (cells, columns, metadata)."""
    from miniorch.api.kube import rows

    job = _create(api, "a")
    api.pod("a-1", job)
    api.pod("a-2", job)
    _create(api, "b")
    pods = "/api/v1/namespaces/default/pods"
    kept = {q: (_table(api, JOBS, q), _table(api, pods, q)) for q in ("", "?includeObject=None")}
    monkeypatch.setattr(rows, "serves", lambda *_: False)
    for query, (jobs, pod_rows) in kept.items():
        for path, table in ((JOBS, jobs), (pods, pod_rows)):
            made = _table(api, path, query)
            assert table["columnDefinitions"] == made["columnDefinitions"]
            assert [r.get("object") for r in table["rows"]] == [r.get("object") for r in made["rows"]]
            age = [c["name"] for c in made["columnDefinitions"]].index("Age")  # read at two instants

            def cells(t: dict[str, Any], age: int = age) -> list[list[Any]]:
                return [r["cells"][:age] + r["cells"][age + 1 :] for r in t["rows"]]

            assert cells(table) == cells(made) and len(made["rows"]) in (2, 3)
    assert [r["cells"][0] for r in kept[""][1]["rows"]] == ["a-1", "a-2"]
    assert kept["?includeObject=None"][0]["rows"][0].keys() == {"cells"}


PRINTED = {"accept": "text/plain;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1;g=meta.k8s.io"}


@pytest.mark.parametrize(
    "flags",
    [{}, {"showNamespace": True, "showLabels": True}, {"showKind": True, "noHeaders": True}],
    ids=["plain", "namespace-labels", "kind-no-headers"],
)
def test_a_printed_list_is_what_ctl_prints_of_the_objects(
    api: ApiHarness, monkeypatch: pytest.MonkeyPatch, flags: dict[str, bool]
) -> None:
    """`Accept: text/plain;as=Table` (ctl get's default table): for Jobs and pods from kept rows, for a
    DaemonSet from its printer; the same text as ctl's printing of the listed objects."""
    import datetime as dt

    from miniorch.api.kube import resources
    from miniorch.cli import output

    job = _create(api, "a", labels={"team": "etl"})
    api.pod("a-1", job)
    api.pod("a-2", job, phase=PodPhase.FAILED, exit_code=2, reason="Error")
    api.apply(_DAEMONSET.format(image="agent:1"))
    now = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=7)
    monkeypatch.setattr(resources, "utcnow", lambda: now)
    for kind, path in (
        ("Job", JOBS),
        ("Pod", "/api/v1/namespaces/default/pods"),
        ("DaemonSet", "/apis/apps/v1/daemonsets"),
    ):
        query = {name: "true" for name in flags}
        resp = api.client.get(path, params=query, headers=PRINTED)
        assert resp.status_code == 200 and resp.headers["content-type"].startswith("text/plain"), resp.text
        items = api.client.get(path).json()["items"]
        expected = output.render(
            kind,
            items,
            None,
            now,
            show_namespace=flags.get("showNamespace", False),
            show_labels=flags.get("showLabels", False),
            with_kind=flags.get("showKind", False),
            no_headers=flags.get("noHeaders", False),
        )
        assert resp.text == expected + "\n" and len(resp.text.splitlines()) == len(items) + (
            0 if flags.get("noHeaders") else 1
        )
    assert "team=etl" in api.client.get(JOBS, params={"showLabels": "true"}, headers=PRINTED).text
    empty = api.client.get(JOBS, params={"labelSelector": "team=none"}, headers=PRINTED)
    assert empty.status_code == 200 and empty.text == ""
    bad = api.client.get(JOBS, params={"noHeaders": "yes"}, headers=PRINTED)
    assert bad.status_code == 400 and "noHeaders must be true or false" in bad.json()["message"]


def _pods_read(api: ApiHarness, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The uids of the pods read whole from the store from now on (the rows made again)."""
    read: list[str] = []
    by_uid = api.store.pods_by_uid

    def pods_by_uid(uids: list[str]) -> Any:
        read.extend(uids)
        return by_uid(uids)

    monkeypatch.setattr(api.store, "pods_by_uid", pods_by_uid)
    return read


def test_a_kept_row_shows_each_write_and_its_age_grows(api: ApiHarness, monkeypatch: pytest.MonkeyPatch) -> None:
    """A second list decodes nothing unchanged; a status written since, and the passing time, show."""
    import datetime as dt

    from miniorch.api.kube import resources
    from miniorch.cli import output

    job = _create(api, "a")
    rec = api.pod("a-1", job)
    pods = "/api/v1/namespaces/default/pods"
    first = _table(api, pods)["rows"][0]["cells"]
    assert first[2] == "Running"
    decoded = _pods_read(api, monkeypatch)
    assert _table(api, pods)["rows"][0]["cells"][:4] == first[:4] and decoded == []
    api.store.save_pod(dataclasses.replace(rec, phase=PodPhase.FAILED, exit_code=3, reason="Error"))
    again = _table(api, pods, "?labelSelector=job-name%3Da")["rows"][0]["cells"]
    assert again[2] == "Error" and again[-1] == "3" and set(decoded) == {rec.uid}
    created = output.parse_ts(_table(api, pods)["rows"][0]["object"]["metadata"]["creationTimestamp"])
    assert created is not None
    later = created + dt.timedelta(hours=3, minutes=20)
    monkeypatch.setattr(resources, "utcnow", lambda: later)
    assert _table(api, pods)["rows"][0]["cells"][4] == "3h20m" and set(decoded) == {rec.uid}
    assert _table(api, pods, "?labelSelector=job-name%3Dother")["rows"] == []


def test_a_big_list_gives_its_memory_back_after_the_answer(api: ApiHarness, monkeypatch: pytest.MonkeyPatch) -> None:
    from miniorch.api import memory

    trims: list[int] = []
    monkeypatch.setattr(memory, "BIG_LIST", 2)
    monkeypatch.setattr(memory, "trim", lambda: trims.append(1))
    _create(api, "a")
    assert api.client.get(JOBS).status_code == 200 and trims == [], "one Job is not a big list"
    _create(api, "b")
    assert len(api.client.get(JOBS).json()["items"]) == 2 and trims == [1]
    if memory._TRIM is not None:  # glibc here: the real call works
        assert memory._TRIM(0) in (0, 1)


def test_events_are_listed_by_involved_object(api: ApiHarness) -> None:
    job = _create(api)
    api.client.delete(f"{JOBS}/pi")  # records a Deleting event
    _create(api, "other")
    path = "/api/v1/namespaces/default/events?fieldSelector=involvedObject.name%3Dpi,involvedObject.kind%3DJob"
    items = api.client.get(path).json()["items"]
    assert [(e["reason"], e["involvedObject"]["uid"]) for e in items] == [("Deleting", job["metadata"]["uid"])]


def test_delete_keeps_the_job_with_a_deletion_timestamp_until_its_controller_removes_it(api: ApiHarness) -> None:
    _create(api)
    resp = api.client.delete(f"{JOBS}/pi", params={"propagationPolicy": "Foreground"})
    assert resp.status_code == 200 and resp.json()["metadata"]["deletionTimestamp"]
    assert api.client.get(f"{JOBS}/pi").json()["metadata"]["deletionTimestamp"]
    orphan = api.client.request("DELETE", f"{JOBS}/pi", json={"propagationPolicy": "Orphan"})
    assert orphan.status_code == 422


def test_label_and_cordon_patches_of_a_node_stick(api: ApiHarness) -> None:
    merge = {"metadata": {"labels": {"disk": "ssd", "zone": None}}}
    resp = api.client.patch("/api/v1/nodes/n1", content=json.dumps(merge), headers=MERGE)
    assert resp.status_code == 200, resp.text
    labels = api.client.get("/api/v1/nodes/n1").json()["metadata"]["labels"]
    assert labels["disk"] == "ssd" and "zone" not in labels
    cordon = {"spec": {"unschedulable": True}}
    smp = {"content-type": "application/strategic-merge-patch+json"}
    assert api.client.patch("/api/v1/nodes/n1", content=json.dumps(cordon), headers=smp).status_code == 200
    assert api.store.node_overrides()["n1"].unschedulable
    nodes = api.client.get("/api/v1/nodes?labelSelector=disk%3Dssd").json()["items"]
    assert [(n["metadata"]["name"], n["spec"]["unschedulable"]) for n in nodes] == [("n1", True)]
    assert api.client.get("/api/v1/nodes/nope").status_code == 404


def test_namespaces_are_default_and_those_objects_are_in(api: ApiHarness) -> None:
    api.client.post("/apis/batch/v1/namespaces/etl/jobs", json=json.loads(job_yaml("x")))
    names = [n["metadata"]["name"] for n in api.client.get("/api/v1/namespaces").json()["items"]]
    assert names == ["default", "etl"]
    assert api.client.get("/api/v1/namespaces/etl").json()["status"]["phase"] == "Active"
    assert api.client.get("/api/v1/namespaces/nope").status_code == 404


def test_a_job_posted_with_a_cronjob_owner_is_that_cronjobs_manual_run(api: ApiHarness) -> None:
    api.apply(CRONJOB_YAML)
    cj = api.client.get("/apis/batch/v1/namespaces/default/cronjobs/nightly").json()
    job = json.loads(job_yaml("nightly-manual"))
    job["metadata"]["annotations"] = {"cronjob.kubernetes.io/instantiate": "manual"}
    job["metadata"]["ownerReferences"] = [
        {
            "apiVersion": "batch/v1",
            "kind": "CronJob",
            "name": "nightly",
            "uid": cj["metadata"]["uid"],
            "controller": True,
        }
    ]
    resp = api.client.post(JOBS, json=job)
    assert resp.status_code == 201, resp.text
    owner = resp.json()["metadata"]["ownerReferences"][0]
    assert (owner["kind"], owner["uid"]) == ("CronJob", cj["metadata"]["uid"])
    assert resp.json()["metadata"]["annotations"]["cronjob.kubernetes.io/instantiate"] == "manual"


def test_a_watch_from_a_version_streams_added_modified_and_deleted(api: ApiHarness) -> None:
    job = _create(api)
    api.pod("pi-0", job)
    start = api.client.get("/api/v1/pods").json()["metadata"]["resourceVersion"]
    api.pod("pi-1", job)
    api.pod("pi-1", job, phase=PodPhase.SUCCEEDED)  # saved twice before the watch reads: one event
    api.store.delete_pods(["uid-pi-0"])
    events = _watch(api, f"/api/v1/namespaces/default/pods?watch=1&resourceVersion={start}&timeoutSeconds=0.3")
    assert [(e["type"], e["object"]["metadata"]["name"]) for e in events] == [("ADDED", "pi-1"), ("DELETED", "pi-0")]
    assert events[0]["object"]["status"]["phase"] == "Succeeded"
    rv = events[-1]["object"]["metadata"]["resourceVersion"]
    api.pod("pi-1", job, phase=PodPhase.FAILED)
    later = _watch(api, f"/api/v1/pods?watch=true&resourceVersion={rv}&timeoutSeconds=0.3")
    assert [(e["type"], e["object"]["status"]["phase"]) for e in later] == [("MODIFIED", "Failed")]


def test_a_watch_without_a_version_starts_with_the_current_objects_and_honours_selectors(api: ApiHarness) -> None:
    _create(api, "a", labels={"tier": "x"})
    _create(api, "b")
    events = _watch(api, f"{JOBS}?watch=1&labelSelector=tier%3Dx&timeoutSeconds=0.2")
    assert [(e["type"], e["object"]["metadata"]["name"]) for e in events] == [("ADDED", "a")]


def test_a_watch_from_a_version_the_log_dropped_is_410(api: ApiHarness, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(versions, "LOG_SIZE", 3)
    monkeypatch.setattr(versions, "_PRUNE_EVERY", 1)
    for n in range(6):
        _create(api, f"j{n}")
    resp = api.client.get(f"{JOBS}?watch=1&resourceVersion=1")
    assert resp.status_code == 410 and resp.json()["reason"] == "Expired"


def test_a_listing_follows_every_write_and_reads_nothing_when_none_came(
    api: ApiHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A list without labels comes from the kind's Listing: after each write it gives the rows the
    long path (versions, then kept rows) gives; with no write since, it reads no versions at all."""
    from miniorch.api import listing, servedcache
    from miniorch.api.kube import rows
    from miniorch.store.versions import Gone

    ctx = api.ctx

    def both(kind: str, namespace: str | None) -> tuple[list[Any], list[Any]]:
        _, listed = rows.listed_rows(ctx, kind, namespace, [])
        long = rows._rows(ctx, kind, namespace, {})
        return [(r.metadata, r.cells) for r in listed], [(r.metadata, r.cells) for r in long]

    def same(expected_pods: list[str]) -> None:
        for kind in ("Pod", "Job"):
            for namespace in (None, "default", "other"):
                listed, long = both(kind, namespace)
                assert listed == long, (kind, namespace)
        assert [m["name"] for m, _ in both("Pod", "default")[0]] == expected_pods

    job = _create(api, "a")
    rec = api.pod("a-1", job)
    same(["a-1"])
    api.pod("a-0", job)  # added before the others in name order
    _create(api, "b")
    same(["a-0", "a-1"])
    api.store.save_pod(dataclasses.replace(rec, phase=PodPhase.FAILED, exit_code=3, reason="Error"))
    same(["a-0", "a-1"])
    assert both("Pod", "default")[0][1][1][2] == "Error"
    api.apply(_DAEMONSET.format(image="agent:1"))
    ds = api.client.get("/apis/apps/v1/namespaces/default/daemonsets/a").json()
    api.pod("a-ds", ds)
    same(["a-0", "a-1", "a-ds"])
    made = _pods_read(api, monkeypatch)
    api.apply(_DAEMONSET.format(image="agent:2"))  # the owner's template changes: its pod's row is made again
    rows.listed_rows(ctx, "Pod", "default", [])
    assert made == ["uid-a-ds"]
    monkeypatch.undo()
    api.store.delete_pods([rec.uid])
    api.store.delete_object(job["metadata"]["uid"])  # and its other pod with it
    same(["a-ds"])

    def no_reads(*_: Any) -> Any:
        raise AssertionError("read the versions")

    monkeypatch.setattr(ctx.store, "pod_versions", no_reads)
    monkeypatch.setattr(ctx.store, "object_versions", no_reads)
    assert [r.metadata["name"] for r in rows.listed_rows(ctx, "Pod", "default", [])[1]] == ["a-ds"]
    assert [r.metadata["name"] for r in rows.listed_rows(ctx, "Job", None, [])[1]] == ["b"]
    monkeypatch.undo()

    def gone(*_: Any) -> Any:
        raise Gone("compacted")

    monkeypatch.setattr(ctx.store, "changes_since", gone)  # the log no longer reaches the last list: built again
    api.pod("a-ds2", ds)
    assert [r.metadata["name"] for r in rows.listed_rows(ctx, "Pod", "default", [])[1]] == ["a-ds", "a-ds2"]
    monkeypatch.undo()
    ctx.listings.clear()
    monkeypatch.setattr(servedcache, "MAX_ROWS", 1)  # over the bound: the long path, not kept
    assert [r.metadata["name"] for r in rows.listed_rows(ctx, "Pod", None, [])[1]] == ["a-ds", "a-ds2"]
    assert isinstance(ctx.listings["Pod"], listing.Listing) and ctx.listings["Pod"]._kept is None
    ctx.listings.clear()
    monkeypatch.setattr(servedcache, "MAX_ROWS", 2)  # kept at the bound, then one more: not kept any more
    assert len(rows.listed_rows(ctx, "Pod", None, [])[1]) == 2 and ctx.listings["Pod"]._kept is not None
    api.pod("a-ds3", ds)
    assert len(rows.listed_rows(ctx, "Pod", None, [])[1]) == 3 and ctx.listings["Pod"]._kept is None


def test_concurrent_applies_of_a_new_name_make_one_object(api: ApiHarness, monkeypatch: pytest.MonkeyPatch) -> None:
    """The API's requests run in threads: two applies of the same new Job (a client's retry after a
    timeout) each found no object and each created one, so the Job ran twice. One is made now."""
    import threading
    import time

    lookup = api.store.get_object

    def slow_lookup(*args: Any) -> Any:
        found = lookup(*args)
        time.sleep(0.05)  # the other request's lookup comes in between
        return found

    monkeypatch.setattr(api.store, "get_object", slow_lookup)
    text = job_yaml("twice")
    answers: list[Any] = []
    threads = [threading.Thread(target=lambda: answers.append(api.apply(text))) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    actions = sorted(a["results"][0]["action"] for a in answers)
    assert actions == ["created", "unchanged", "unchanged"]
    assert [o.name for o in api.store.list_objects("Job")] == ["twice"]


def test_a_create_of_a_taken_name_and_a_stale_update_are_refused_with_the_write(api: ApiHarness) -> None:
    """AlreadyExists and the resourceVersion check are the applier's, made under its lock: a create
    or an update that raced another write is refused, never applied on top of it."""
    from miniorch.controllers import objects as objects_mod
    from miniorch.spec import loader

    job = _create(api, "taken")
    (manifest,) = loader.load_text(job_yaml("taken"), "test")
    with pytest.raises(objects_mod.AlreadyExists):
        api.ctx.applier.apply([manifest], "api", create=True)
    rv = int(job["metadata"]["resourceVersion"])
    api.store.save_status(job["metadata"]["uid"], {"active": 1})  # any write moves the version on
    (changed,) = loader.load_text(job_yaml("taken", parallelism=2), "test")
    with pytest.raises(objects_mod.Stale):
        api.ctx.applier.apply([changed], "api", resource_version=rv)
    assert api.store.get_object("Job", "default", "taken").manifest["spec"].get("parallelism", 1) == 1  # type: ignore[union-attr]
