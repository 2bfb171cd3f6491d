"""The object and verb routes over a real SQLite store, without Docker: apply, dry runs, get,
list, patch, delete, a manual CronJob run, and refusals as sentences with kubectl's status codes."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from support.apiapp import CRONJOB_YAML, ApiHarness, harness, job_yaml


@pytest.fixture
def api(tmp_path: Path) -> Iterator[ApiHarness]:
    with harness(tmp_path) as h:
        yield h


def test_apply_creates_then_reports_unchanged_and_configured(api: ApiHarness) -> None:
    assert api.apply(job_yaml("pi"))["results"] == [
        {"kind": "Job", "namespace": "default", "name": "pi", "action": "created"}
    ]
    assert api.apply(job_yaml("pi"))["results"][0]["action"] == "unchanged"
    assert api.apply(job_yaml("pi", {"tier": "batch"}))["results"][0]["action"] == "configured"
    assert api.wakes, "an apply wakes the controllers"


def test_apply_dry_run_checks_and_stores_nothing(api: ApiHarness) -> None:
    resp = api.client.post("/apply", json={"source": "t", "text": job_yaml("pi"), "dry_run": True})
    assert resp.json()["results"] == [{"kind": "Job", "namespace": "default", "name": "pi", "action": "checked"}]
    assert api.store.get_object("Job", "default", "pi") is None


def test_dry_run_route_answers_live_and_merged_without_storing(api: ApiHarness) -> None:
    first = api.client.post("/api/dry-run", json={"source": "t", "text": job_yaml("pi")}).json()["results"][0]
    assert (first["action"], first["live"]) == ("created", None)
    assert first["merged"]["spec"]["backoffLimit"] == 6, "defaults are filled in as an apply would store them"
    assert api.store.get_object("Job", "default", "pi") is None
    api.apply(job_yaml("pi"))
    again = api.client.post("/api/dry-run", json={"source": "t", "text": job_yaml("pi", parallelism=2)}).json()
    assert again["results"][0]["action"] == "configured"
    assert again["results"][0]["live"]["spec"]["parallelism"] == 1


def test_get_and_list_objects_with_label_selectors(api: ApiHarness) -> None:
    api.apply(job_yaml("a", {"tier": "batch"}))
    api.apply(job_yaml("b"))
    got = api.client.get("/api/objects/jobs/default/a").json()
    assert (got["apiVersion"], got["kind"], got["metadata"]["name"]) == ("batch/v1", "Job", "a")
    listed = api.client.get("/api/objects/jobs").json()
    assert (listed["kind"], [i["metadata"]["name"] for i in listed["items"]]) == ("List", ["a", "b"])
    picked = api.client.get("/api/objects/jobs", params={"selector": "tier=batch"}).json()["items"]
    assert [i["metadata"]["name"] for i in picked] == ["a"]
    assert api.client.get("/api/objects/jobs", params={"namespace": "other"}).json()["items"] == []


def test_patch_changes_the_object_and_says_when_nothing_changed(api: ApiHarness) -> None:
    api.apply(job_yaml("pi"))
    resp = api.client.patch("/api/objects/jobs/default/pi", json={"spec": {"parallelism": 3}})
    assert resp.json()["action"] == "patched"
    assert resp.json()["object"]["spec"]["parallelism"] == 3
    same = api.client.patch("/api/objects/jobs/default/pi", json={"spec": {"parallelism": 3}})
    assert same.json()["action"] != "patched"


def test_delete_marks_the_object_for_the_controllers(api: ApiHarness) -> None:
    api.apply(job_yaml("pi"))
    resp = api.client.delete("/api/objects/jobs/default/pi")
    assert resp.status_code == 200 and resp.json()["metadata"]["name"] == "pi"
    rec = api.store.get_object("Job", "default", "pi")
    assert rec is not None and rec.deleting


def test_a_manual_cronjob_run_makes_a_job_once(api: ApiHarness) -> None:
    api.apply(CRONJOB_YAML)
    made = api.client.post("/api/objects/cronjobs/default/nightly/jobs", json={"name": "by-hand"})
    assert made.status_code == 200 and made.json()["metadata"]["name"] == "by-hand"
    assert api.store.get_object("Job", "default", "by-hand") is not None
    twice = api.client.post("/api/objects/cronjobs/default/nightly/jobs", json={"name": "by-hand"})
    assert (twice.status_code, twice.json()) == (409, {"message": 'jobs.batch "by-hand" already exists'})


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "message"),
    [
        ("GET", "/api/objects/jobs/default/nope", None, 404, 'job.batch "nope" not found'),
        ("GET", "/api/objects/cronjobs/default/nope", None, 404, 'cronjob.batch "nope" not found'),
        ("GET", "/api/objects/daemonsets/default/nope", None, 404, 'daemonset.apps "nope" not found'),
        (
            "GET",
            "/api/objects/widgets",
            None,
            400,
            'unknown resource type "widgets"; use jobs, cronjobs, daemonsets, pods, nodes or events',
        ),
        ("PATCH", "/api/objects/jobs/default/nope", {}, 404, 'job "nope" not found in namespace "default"'),
        (
            "POST",
            "/api/objects/cronjobs/default/nope/jobs",
            {"name": "x"},
            404,
            'cronjob.batch "nope" not found in namespace "default"',
        ),
        (
            "GET",
            "/api/objects/daemonsets/default/nope/revisions",
            None,
            404,
            'daemonsets.apps "nope" not found',
        ),
    ],
)
def test_refusals_are_sentences_with_kubectl_status_codes(
    api: ApiHarness, method: str, path: str, body: object, status: int, message: str
) -> None:
    resp = api.client.request(method, path, json=body)
    assert (resp.status_code, resp.json()) == (status, {"message": message})


def test_an_invalid_manifest_is_422_with_every_error(api: ApiHarness) -> None:
    text = job_yaml("pi").replace('"busybox"', '""').replace('"Never"', '"Sometimes"')
    resp = api.client.post("/apply", json={"source": "bad.yaml", "text": text})
    assert resp.status_code == 422
    body = resp.json()
    assert body["message"] and len(body["errors"]) >= 1
    assert all("bad.yaml" in e for e in body["errors"])
    assert api.store.get_object("Job", "default", "pi") is None


def test_a_malformed_request_is_refused_by_field(api: ApiHarness) -> None:
    """FastAPI's own validation of the shared request models: `ctl` turns `detail` into a sentence."""
    resp = api.client.post("/apply", json={"source": "t"})
    assert resp.status_code == 422
    assert [d["loc"] for d in resp.json()["detail"]] == [["body", "text"]]
