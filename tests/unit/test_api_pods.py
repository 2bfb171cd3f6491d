"""Nodes, pods, logs and events as `ctl` reads them through the Kubernetes API, over a real SQLite store,
with the drain subresource; the nodes' engines do not exist, so logs come from the stored tail, as for
a pod whose container is gone."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from support.apiapp import ApiHarness, harness, job_yaml

from miniorch.api.kube import watch
from miniorch.store.records import EventRecord, PodPhase

T0 = dt.datetime(2026, 1, 1, 12, 0, tzinfo=dt.UTC)
NODES = "/api/v1/nodes"
PODS = "/api/v1/pods"
MERGE = {"Content-Type": "application/merge-patch+json"}


@pytest.fixture
def api(tmp_path: Path) -> Iterator[ApiHarness]:
    with harness(tmp_path, drain_left=["pi-a"]) as h:
        yield h


def _job(api: ApiHarness, name: str = "pi") -> dict[str, Any]:
    api.apply(job_yaml(name))
    job: dict[str, Any] = api.client.get(f"/apis/batch/v1/namespaces/default/jobs/{name}").json()
    return job


def _names(resp: Any) -> list[str]:
    return [i["metadata"]["name"] for i in resp.json()["items"]]


def _patch(api: ApiHarness, path: str, body: dict[str, Any]) -> Any:
    return api.client.patch(path, content=json.dumps(body), headers=MERGE)


def test_nodes_list_with_their_labels_and_selectors(api: ApiHarness) -> None:
    assert _names(api.client.get(NODES)) == ["n1", "n2"]
    assert _names(api.client.get(NODES, params={"labelSelector": "zone=n2"})) == ["n2"]
    node = api.client.get(f"{NODES}/n1").json()
    assert node["metadata"]["labels"]["kubernetes.io/hostname"] == "n1"


def test_label_and_cordon_are_kept_in_the_store(api: ApiHarness) -> None:
    resp = _patch(api, f"{NODES}/n1", {"metadata": {"labels": {"disk": "ssd", "zone": None}}})
    labels = resp.json()["metadata"]["labels"]
    assert labels["disk"] == "ssd" and "zone" not in labels
    _patch(api, f"{NODES}/n1", {"spec": {"unschedulable": True}})
    over = api.store.node_overrides()["n1"]
    assert over.unschedulable and over.labels["disk"] == "ssd", "a cordon keeps the labels"
    assert api.client.get(f"{NODES}/n1").json()["spec"].get("unschedulable") is True
    assert _names(api.client.get(NODES, params={"labelSelector": "disk=ssd"})) == ["n1"]
    assert len(api.wakes) == 2


def test_drain_cordons_and_answers_the_pods_still_stopping(api: ApiHarness) -> None:
    resp = api.client.post(f"{NODES}/n2/drain")
    assert resp.json() == {"node": "n2", "remaining": ["pi-a"]}
    assert api.drained == ["n2"] and api.store.node_overrides()["n2"].unschedulable


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", f"{NODES}/n9"), ("PATCH", f"{NODES}/n9"), ("POST", f"{NODES}/n9/drain")],
)
def test_an_unknown_node_is_a_not_found_status(api: ApiHarness, method: str, path: str) -> None:
    body = "{}" if method == "PATCH" else None
    resp = api.client.request(method, path, content=body, headers=MERGE if body else None)
    assert resp.status_code == 404
    assert (resp.json()["kind"], resp.json()["message"]) == ("Status", 'nodes "n9" not found')
    assert resp.json()["details"]["name"] == "n9", "ctl words the error by the name it asked for"


@pytest.mark.parametrize(
    ("path", "params", "expected"),
    [
        (PODS, {}, ["pi-a", "pi-b", "pi-c"]),
        (PODS, {"fieldSelector": "spec.nodeName=n2"}, ["pi-b"]),
        (PODS, {"fieldSelector": "status.phase=Succeeded"}, ["pi-c"]),
        (PODS, {"labelSelector": "job-name=pi,extra=yes"}, ["pi-a"]),
        (PODS, {"labelSelector": "extra!=yes"}, ["pi-b", "pi-c"]),
        ("/api/v1/namespaces/other/pods", {}, []),
    ],
)
def test_pods_are_narrowed_by_node_phase_labels_and_namespace(
    api: ApiHarness, path: str, params: dict[str, str], expected: list[str]
) -> None:
    job = _job(api)
    api.pod("pi-a", job, labels={"job-name": "pi", "extra": "yes"})
    api.pod("pi-b", job, node="n2")
    api.pod("pi-c", job, phase=PodPhase.SUCCEEDED)
    resp = api.client.get(path, params=params)
    assert resp.json()["kind"] == "PodList"
    assert sorted(_names(resp)) == expected


def test_pods_of_an_owner_and_one_pod_with_its_owner_reference(api: ApiHarness) -> None:
    job, other = _job(api), _job(api, "other")
    api.pod("pi-a", job)
    api.pod("other-a", other)
    owner = {"fieldSelector": f"metadata.ownerReferences.uid={job['metadata']['uid']}"}
    assert _names(api.client.get(PODS, params=owner)) == ["pi-a"]
    assert _names(api.client.get("/api/v1/namespaces/other/pods", params=owner)) == []
    not_owner = {"fieldSelector": f"metadata.ownerReferences.uid!={job['metadata']['uid']}"}
    assert _names(api.client.get(PODS, params=not_owner)) == ["other-a"]
    pod = api.client.get("/api/v1/namespaces/default/pods/pi-a").json()
    assert pod["metadata"]["ownerReferences"][0]["name"] == "pi"
    missing = api.client.get("/api/v1/namespaces/default/pods/nope")
    assert (missing.status_code, missing.json()["message"]) == (404, 'pods "nope" not found')


def test_logs_come_from_the_stored_tail_when_the_container_is_gone(api: ApiHarness) -> None:
    job = _job(api)
    tail = "".join(f"2026-01-01T12:00:0{i}.000000000Z line {i}\n" for i in range(3))
    api.pod("pi-a", job, log_tail=tail, log_timestamped=True, container_removed=True, run_started_at=T0)
    url = "/api/v1/namespaces/default/pods/pi-a/log"
    assert api.client.get(url).text == "line 0\nline 1\nline 2\n"
    assert api.client.get(url, params={"tailLines": 1}).text == "line 2\n"
    stamped = api.client.get(url, params={"timestamps": True, "tailLines": 1}).text
    assert stamped == "2026-01-01T12:00:02.000000000Z line 2\n"


@pytest.mark.parametrize(
    ("pod", "params", "status", "message"),
    [
        ("nope", {}, 404, 'pods "nope" not found'),
        (
            "pi-a",
            {"previous": True},
            400,
            'previous terminated container of pod "pi-a" not found: it has not been restarted',
        ),
    ],
)
def test_log_refusals(api: ApiHarness, pod: str, params: dict[str, Any], status: int, message: str) -> None:
    api.pod("pi-a", _job(api), container_removed=True)
    resp = api.client.get(f"/api/v1/namespaces/default/pods/{pod}/log", params=params)
    assert (resp.status_code, resp.json()["kind"], resp.json()["message"]) == (status, "Status", message)


def _event(api: ApiHarness, uid: str, reason: str, namespace: str = "default") -> None:
    api.store.record_event(
        EventRecord(
            namespace, "Job", "pi", uid, "Normal", reason, f"{reason} happened", first_timestamp=T0, last_timestamp=T0
        )
    )


def test_events_by_namespace_and_by_involved_object(api: ApiHarness) -> None:
    _event(api, "u1", "Created")
    _event(api, "u2", "Completed")
    _event(api, "u3", "Elsewhere", namespace="other")
    reasons = [e["reason"] for e in api.client.get("/api/v1/namespaces/default/events").json()["items"]]
    assert sorted(reasons) == ["Completed", "Created"]
    by_uid = api.client.get("/api/v1/events", params={"fieldSelector": "involvedObject.uid=u2"}).json()["items"]
    assert [e["involvedObject"]["uid"] for e in by_uid] == ["u2"]


def test_the_event_watch_from_the_lists_version_sends_only_what_came_after(api: ApiHarness) -> None:
    _event(api, "u1", "Created")
    listed = api.client.get("/api/v1/events").json()
    assert [e["reason"] for e in listed["items"]] == ["Created"]
    _event(api, "u2", "Completed")
    since = listed["metadata"]["resourceVersion"]
    params = {"watch": "1", "resourceVersion": since, "timeoutSeconds": str(5 * watch.POLL_SECONDS)}
    with api.client.stream("GET", "/api/v1/events", params=params) as resp:
        lines = [json.loads(line) for line in resp.iter_lines() if line.strip()]
    assert [(c["type"], c["object"]["reason"]) for c in lines] == [("ADDED", "Completed")]
