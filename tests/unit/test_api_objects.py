"""The object and verb routes `ctl` uses, over a real SQLite store, without Docker: apply and dry runs
(miniorch's own routes), and through the Kubernetes API get, list, patch, delete, a manual CronJob run
and the rollout subresources, with refusals as sentences and kubectl's status codes."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from support.apiapp import CRONJOB_YAML, ApiHarness, harness, job_yaml

JOBS = "/apis/batch/v1/namespaces/default/jobs"
MERGE = {"Content-Type": "application/merge-patch+json"}


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
    got = api.client.get(f"{JOBS}/a").json()
    assert (got["apiVersion"], got["kind"], got["metadata"]["name"]) == ("batch/v1", "Job", "a")
    listed = api.client.get("/apis/batch/v1/jobs").json()
    assert (listed["kind"], [i["metadata"]["name"] for i in listed["items"]]) == ("JobList", ["a", "b"])
    picked = api.client.get("/apis/batch/v1/jobs", params={"labelSelector": "tier=batch"}).json()["items"]
    assert [i["metadata"]["name"] for i in picked] == ["a"]
    assert api.client.get("/apis/batch/v1/namespaces/other/jobs").json()["items"] == []


def _patch(api: ApiHarness, path: str, body: dict[str, Any]) -> Any:
    return api.client.patch(path, content=json.dumps(body), headers=MERGE)


def test_a_patch_moves_the_generation_on_only_when_it_changes_something(api: ApiHarness) -> None:
    """`ctl patch` tells "patched" from "patched (no change)" by the generation before and after."""
    api.apply(job_yaml("pi"))
    before = api.client.get(f"{JOBS}/pi").json()["metadata"]["generation"]
    resp = _patch(api, f"{JOBS}/pi", {"spec": {"parallelism": 3}})
    assert resp.json()["spec"]["parallelism"] == 3
    assert resp.json()["metadata"]["generation"] == before + 1
    same = _patch(api, f"{JOBS}/pi", {"spec": {"parallelism": 3}})
    assert same.json()["metadata"]["generation"] == before + 1


def test_delete_marks_the_object_for_the_controllers(api: ApiHarness) -> None:
    api.apply(job_yaml("pi"))
    resp = api.client.delete(f"{JOBS}/pi")
    assert resp.status_code == 200 and resp.json()["metadata"]["name"] == "pi"
    rec = api.store.get_object("Job", "default", "pi")
    assert rec is not None and rec.deleting


def _manual_run(api: ApiHarness, name: str, cronjob: str = "nightly") -> Any:
    """What `ctl create job NAME --from=cronjob/CJ` posts: a Job naming the CronJob as its controller."""
    uid = api.client.get(f"/apis/batch/v1/namespaces/default/cronjobs/{cronjob}").json()["metadata"]["uid"]
    owner = {"apiVersion": "batch/v1", "kind": "CronJob", "name": cronjob, "uid": uid, "controller": True}
    annotations = {"cronjob.kubernetes.io/instantiate": "manual"}
    body = {"metadata": {"name": name, "annotations": annotations, "ownerReferences": [owner]}}
    return api.client.post(JOBS, json=body)


def test_a_manual_cronjob_run_makes_a_job_once(api: ApiHarness) -> None:
    api.apply(CRONJOB_YAML)
    made = _manual_run(api, "by-hand")
    assert made.status_code == 201 and made.json()["metadata"]["name"] == "by-hand"
    job = api.store.get_object("Job", "default", "by-hand")
    assert job is not None and job.owner_name == "nightly"
    assert job.manifest["spec"]["template"]["spec"]["containers"][0]["command"] == ["date"], "the CronJob's template"
    twice = _manual_run(api, "by-hand")
    assert (twice.status_code, twice.json()["message"]) == (409, 'jobs.batch "by-hand" already exists')


APPS = "/apis/apps/v1/namespaces/default"


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "message"),
    [
        ("GET", f"{JOBS}/nope", None, 404, 'jobs.batch "nope" not found'),
        ("GET", "/apis/batch/v1/namespaces/default/cronjobs/nope", None, 404, 'cronjobs.batch "nope" not found'),
        ("GET", f"{APPS}/daemonsets/nope", None, 404, 'daemonsets.apps "nope" not found'),
        ("GET", "/apis/batch/v1/widgets", None, 404, "the server could not find the requested resource"),
        ("PATCH", f"{JOBS}/nope", {}, 404, 'jobs.batch "nope" not found'),
        (
            "POST",
            JOBS,
            {"metadata": {"name": "x", "ownerReferences": [{"kind": "CronJob", "name": "nope", "controller": True}]}},
            422,
            'ownerReferences: the cronjob "nope" does not exist',
        ),
        ("GET", f"{APPS}/daemonsets/nope/revisions", None, 404, 'daemonsets.apps "nope" not found'),
        ("POST", f"{APPS}/statefulsets/nope/rollback", {}, 404, 'statefulsets.apps "nope" not found'),
        ("GET", f"{APPS}/deployments/x/revisions", None, 404, "the server could not find the requested resource"),
    ],
)
def test_refusals_are_status_sentences_with_kubectl_status_codes(
    api: ApiHarness, method: str, path: str, body: object, status: int, message: str
) -> None:
    headers = MERGE if method == "PATCH" else {"Content-Type": "application/json"}
    resp = api.client.request(method, path, content=None if body is None else json.dumps(body), headers=headers)
    assert resp.status_code == status
    assert (resp.json()["kind"], resp.json()["message"].split(" (")[0]) == ("Status", message)


DAEMONSET_YAML = """apiVersion: apps/v1
kind: DaemonSet
metadata: {name: agent}
spec:
  selector: {matchLabels: {app: agent}}
  template:
    metadata: {labels: {app: agent}}
    spec:
      containers: [{name: main, image: busybox, command: [sleep, "3600"]}]
"""


def test_revisions_and_rollback_are_subresources_of_the_daemonset(api: ApiHarness) -> None:
    api.apply(DAEMONSET_YAML)
    listed = api.client.get(f"{APPS}/daemonsets/agent/revisions").json()
    assert (listed["kind"], listed["items"]) == ("ControllerRevisionList", []), "the controller records revisions"
    resp = api.client.post(f"{APPS}/daemonsets/agent/rollback", json={"to_revision": 0})
    assert (resp.status_code, resp.json()["message"]) == (404, 'no rollout history found for daemonset "agent"')


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
