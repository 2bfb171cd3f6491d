"""Node, pod, log and event routes over a real SQLite store; the nodes' engines do not exist,
so logs come from the stored tail, as for a pod whose container is gone."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from support.apiapp import ApiHarness, harness, job_yaml

from miniorch.api import events
from miniorch.store.records import EventRecord, PodPhase

T0 = dt.datetime(2026, 1, 1, 12, 0, tzinfo=dt.UTC)


@pytest.fixture
def api(tmp_path: Path) -> Iterator[ApiHarness]:
    with harness(tmp_path, drain_left=["pi-a"]) as h:
        yield h


def _job(api: ApiHarness, name: str = "pi") -> dict[str, Any]:
    api.apply(job_yaml(name))
    job: dict[str, Any] = api.client.get(f"/api/objects/jobs/default/{name}").json()
    return job


def _names(resp: Any) -> list[str]:
    return [i["metadata"]["name"] for i in resp.json()["items"]]


def test_nodes_list_with_their_labels_and_selectors(api: ApiHarness) -> None:
    assert _names(api.client.get("/api/nodes")) == ["n1", "n2"]
    assert _names(api.client.get("/api/nodes", params={"selector": "zone=n2"})) == ["n2"]
    node = api.client.get("/api/nodes/n1").json()
    assert node["metadata"]["labels"]["kubernetes.io/hostname"] == "n1"


def test_label_and_cordon_are_kept_in_the_store(api: ApiHarness) -> None:
    resp = api.client.patch("/api/nodes/n1", json={"labels": {"disk": "ssd", "zone": None}})
    labels = resp.json()["metadata"]["labels"]
    assert labels["disk"] == "ssd" and "zone" not in labels
    api.client.patch("/api/nodes/n1", json={"unschedulable": True})
    over = api.store.node_overrides()["n1"]
    assert over.unschedulable and over.labels["disk"] == "ssd", "a cordon keeps the labels"
    assert api.client.get("/api/nodes/n1").json()["spec"].get("unschedulable") is True
    assert _names(api.client.get("/api/nodes", params={"selector": "disk=ssd"})) == ["n1"]
    assert len(api.wakes) == 2


def test_drain_cordons_and_answers_the_pods_still_stopping(api: ApiHarness) -> None:
    resp = api.client.post("/api/nodes/n2/drain")
    assert resp.json() == {"node": "n2", "remaining": ["pi-a"]}
    assert api.drained == ["n2"] and api.store.node_overrides()["n2"].unschedulable


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "/api/nodes/n9"), ("PATCH", "/api/nodes/n9"), ("POST", "/api/nodes/n9/drain")],
)
def test_an_unknown_node_is_404(api: ApiHarness, method: str, path: str) -> None:
    resp = api.client.request(method, path, json={} if method == "PATCH" else None)
    assert (resp.status_code, resp.json()) == (404, {"message": 'node "n9" not found'})


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({}, ["pi-a", "pi-b", "pi-c"]),
        ({"node": "n2"}, ["pi-b"]),
        ({"phase": "Succeeded"}, ["pi-c"]),
        ({"selector": "job-name=pi,extra=yes"}, ["pi-a"]),
        ({"selector": "extra!=yes"}, ["pi-b", "pi-c"]),
        ({"namespace": "other"}, []),
    ],
)
def test_pods_are_narrowed_by_node_phase_labels_and_namespace(
    api: ApiHarness, params: dict[str, str], expected: list[str]
) -> None:
    job = _job(api)
    api.pod("pi-a", job, labels={"job-name": "pi", "extra": "yes"})
    api.pod("pi-b", job, node="n2")
    api.pod("pi-c", job, phase=PodPhase.SUCCEEDED)
    assert sorted(_names(api.client.get("/api/pods", params=params))) == expected


def test_pods_of_an_owner_and_one_pod_with_its_owner_reference(api: ApiHarness) -> None:
    job, other = _job(api), _job(api, "other")
    api.pod("pi-a", job)
    api.pod("other-a", other)
    assert _names(api.client.get("/api/pods", params={"owner": job["metadata"]["uid"]})) == ["pi-a"]
    pod = api.client.get("/api/pods/default/pi-a").json()
    assert pod["metadata"]["ownerReferences"][0]["name"] == "pi"
    missing = api.client.get("/api/pods/default/nope")
    assert (missing.status_code, missing.json()) == (404, {"message": 'pod "nope" not found in namespace "default"'})


def test_logs_come_from_the_stored_tail_when_the_container_is_gone(api: ApiHarness) -> None:
    job = _job(api)
    tail = "".join(f"2026-01-01T12:00:0{i}.000000000Z line {i}\n" for i in range(3))
    api.pod("pi-a", job, log_tail=tail, log_timestamped=True, container_removed=True, run_started_at=T0)
    assert api.client.get("/api/pods/default/pi-a/log").text == "line 0\nline 1\nline 2\n"
    assert api.client.get("/api/pods/default/pi-a/log", params={"tail": 1}).text == "line 2\n"
    stamped = api.client.get("/api/pods/default/pi-a/log", params={"timestamps": True, "tail": 1}).text
    assert stamped == "2026-01-01T12:00:02.000000000Z line 2\n"


@pytest.mark.parametrize(
    ("pod", "params", "status", "message"),
    [
        ("nope", {}, 404, 'pod "nope" not found in namespace "default"'),
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
    resp = api.client.get(f"/api/pods/default/{pod}/log", params=params)
    assert (resp.status_code, resp.json()) == (status, {"message": message})


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
    reasons = [e["reason"] for e in api.client.get("/api/events", params={"namespace": "default"}).json()["items"]]
    assert sorted(reasons) == ["Completed", "Created"]
    by_uid = api.client.get("/api/events", params={"uid": "u2"}).json()["items"]
    assert [e["involvedObject"]["uid"] for e in by_uid] == ["u2"]


def test_the_event_watch_sends_current_events_then_changes_only(api: ApiHarness) -> None:
    _event(api, "u1", "Created")

    async def first_two() -> list[bytes]:
        stream = events.watch(api.store, None, 0.01)
        first = await anext(stream)
        _event(api, "u2", "Completed")
        second = await anext(stream)
        await stream.aclose()
        return [first, second]

    first, second = asyncio.run(first_two())
    assert [(c["type"], c["object"]["reason"]) for c in map(json.loads, first.splitlines())] == [("ADDED", "Created")]
    assert [json.loads(line)["object"]["reason"] for line in second.splitlines() if line.strip()] == ["Completed"]
