"""The Kubernetes API's pure parts: JSON patch, merge diffs, field selectors, the protobuf envelope,
and the routing of strategic merge patches and `as=Table` to their modules (faked here)."""

from __future__ import annotations

import datetime as dt
import json
import sys
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from support.apiapp import CRONJOB_YAML, harness, job_yaml

from miniorch import kinds
from miniorch.api.kube import fields, patch, protobuf
from miniorch.api.kube.status import KubeError
from miniorch.controllers.objects import merge_patch

DOC = {"spec": {"n": 1, "list": ["a", "b"]}, "metadata": {"name": "x"}}


@pytest.mark.parametrize(
    ("ops", "expected"),
    [
        ([{"op": "replace", "path": "/spec/n", "value": 2}], {"n": 2, "list": ["a", "b"]}),
        ([{"op": "add", "path": "/spec/list/1", "value": "z"}], {"n": 1, "list": ["a", "z", "b"]}),
        ([{"op": "add", "path": "/spec/list/-", "value": "z"}], {"n": 1, "list": ["a", "b", "z"]}),
        ([{"op": "remove", "path": "/spec/list/0"}], {"n": 1, "list": ["b"]}),
        ([{"op": "replace", "path": "/spec/list/0", "value": "q"}], {"n": 1, "list": ["q", "b"]}),
        ([{"op": "move", "from": "/spec/n", "path": "/spec/m"}], {"m": 1, "list": ["a", "b"]}),
        ([{"op": "copy", "from": "/spec/n", "path": "/spec/m"}], {"n": 1, "m": 1, "list": ["a", "b"]}),
        ([{"op": "test", "path": "/spec/n", "value": 1}, {"op": "remove", "path": "/spec/n"}], {"list": ["a", "b"]}),
        ([{"op": "add", "path": "/spec/a~1b", "value": 1}], {"n": 1, "list": ["a", "b"], "a/b": 1}),
    ],
)
def test_json_patch_operations(ops: list[dict[str, Any]], expected: dict[str, Any]) -> None:
    assert patch.json_patch(json.loads(json.dumps(DOC)), ops)["spec"] == expected


@pytest.mark.parametrize(
    ("ops", "code"),
    [
        ({"op": "add"}, 400),
        ([{"op": "remove", "path": "/spec/nope"}], 422),
        ([{"op": "test", "path": "/spec/n", "value": 2}], 422),
        ([{"op": "frob", "path": "/spec/n"}], 400),
        ([{"op": "add", "path": "spec"}], 400),
        ([{"op": "add", "path": "/spec/list/9", "value": 1}], 422),
    ],
)
def test_bad_json_patches_are_refused_with_a_status_code(ops: Any, code: int) -> None:
    with pytest.raises(KubeError) as err:
        patch.json_patch(json.loads(json.dumps(DOC)), ops)
    assert err.value.code == code


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ({"a": 1, "b": {"c": 1, "d": 2}}, {"a": 1, "b": {"c": 3}}),
        ({"a": [1, 2]}, {"a": [2], "e": {"f": 1}}),
        ({"a": 1}, {"a": 1}),
    ],
)
def test_the_merge_diff_makes_the_old_object_into_the_new_one(old: dict[str, Any], new: dict[str, Any]) -> None:
    assert merge_patch(json.loads(json.dumps(old)), patch.merge_diff(old, new)) == new


def test_spec_of_drops_status_and_server_metadata_but_keeps_user_annotations() -> None:
    served = {
        "kind": "Job",
        "metadata": {
            "name": "x",
            "uid": "u",
            "resourceVersion": "3",
            "annotations": {"miniorch.io/source": "api", "kubectl.kubernetes.io/last-applied-configuration": "{}"},
        },
        "status": {"active": 1},
    }
    assert patch.spec_of(served) == {
        "kind": "Job",
        "metadata": {"name": "x", "annotations": {"kubectl.kubernetes.io/last-applied-configuration": "{}"}},
    }


@pytest.mark.parametrize(
    ("text", "obj", "matches"),
    [
        ("status.phase=Running", {"status": {"phase": "Running"}}, True),
        ("status.phase==Running", {"status": {"phase": "Failed"}}, False),
        ("status.phase!=Running", {"status": {"phase": "Failed"}}, True),
        ("spec.nodeName=", {"spec": {}}, True),
        ("metadata.name=a,status.phase=Running", {"metadata": {"name": "a"}, "status": {"phase": "Running"}}, True),
        ("spec.unschedulable=true", {"spec": {"unschedulable": True}}, True),
    ],
)
def test_field_selectors(text: str, obj: dict[str, Any], matches: bool) -> None:
    reqs = fields.parse(text, ("status.phase", "spec.nodeName", "spec.unschedulable"))
    assert fields.matches(reqs, obj) is matches


OWNED = {"metadata": {"ownerReferences": [{"uid": "u1"}, {"uid": "u2"}]}}


@pytest.mark.parametrize(
    ("text", "obj", "matches"),
    [
        ("metadata.ownerReferences.uid=u2", OWNED, True),
        ("metadata.ownerReferences.uid=u3", OWNED, False),
        ("metadata.ownerReferences.uid!=u1", OWNED, False),
        ("metadata.ownerReferences.uid!=u3", OWNED, True),
        ("metadata.ownerReferences.uid=u1", {"metadata": {"ownerReferences": []}}, False),
        ("metadata.ownerReferences.uid!=u1", {"metadata": {}}, True),
    ],
)
def test_a_field_across_a_list_matches_when_any_element_has_the_value(
    text: str, obj: dict[str, Any], matches: bool
) -> None:
    """An owner's pods: `=` when one of the owner references has the uid, `!=` when none has."""
    reqs = fields.parse(text, ("metadata.ownerReferences.uid",))
    assert fields.matches(reqs, obj) is matches


@pytest.mark.parametrize("text", ["bogus=1", "status.phase", "spec.nodeName~x"])
def test_a_bad_field_selector_is_a_value_error(text: str) -> None:
    with pytest.raises(ValueError):
        fields.parse(text, ("status.phase", "spec.nodeName"))


def _field(number: int, value: bytes | int) -> bytes:
    if isinstance(value, int):
        return bytes([number << 3]) + bytes([value])
    return bytes([(number << 3) | 2, len(value)]) + value


def test_the_protobuf_envelope_yields_kind_and_metadata() -> None:
    owner = _field(1, b"CronJob") + _field(3, b"nightly") + _field(4, b"u-1") + _field(6, 1)
    meta = (
        _field(1, b"now")
        + _field(3, b"")
        + _field(12, _field(1, b"cronjob.kubernetes.io/instantiate") + _field(2, b"manual"))
        + _field(13, owner)
    )
    job = _field(1, meta) + _field(2, b"")
    body = protobuf.MAGIC + _field(1, _field(1, b"batch/v1") + _field(2, b"Job")) + _field(2, job)
    assert protobuf.decode(body) == {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {
            "name": "now",
            "annotations": {"cronjob.kubernetes.io/instantiate": "manual"},
            "ownerReferences": [{"kind": "CronJob", "name": "nightly", "uid": "u-1", "controller": True}],
        },
    }
    with pytest.raises(ValueError):
        protobuf.decode(b"{}")


# -- strategic merge patches and Tables go to their modules (fakes here, the real ones after the merge) --
@pytest.fixture
def fake_modules(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[Any]]:
    calls: list[Any] = []

    def strategic_merge(original: dict[str, Any], body: dict[str, Any], kind: str) -> dict[str, Any]:
        calls.append(("smp", kind))
        merged: dict[str, Any] = merge_patch(original, body)
        return merged

    def as_table(kind: str, objects: list[dict[str, Any]], now: dt.datetime, include: str) -> dict[str, Any]:
        calls.append(("table", kind, now.tzinfo is not None))
        rows = [{"cells": [o["metadata"]["name"]], "object": o} for o in objects]
        return {"kind": "Table", "apiVersion": "meta.k8s.io/v1", "columnDefinitions": [{"name": "Name"}], "rows": rows}

    monkeypatch.setitem(sys.modules, "miniorch.api.kube.smp", types.SimpleNamespace(strategic_merge=strategic_merge))
    monkeypatch.setitem(sys.modules, "miniorch.api.kube.table", types.SimpleNamespace(as_table=as_table))
    kinds.load.cache_clear()
    yield calls
    kinds.load.cache_clear()


def test_strategic_merge_patches_and_tables_are_routed_to_their_modules(
    tmp_path: Path, fake_modules: list[Any]
) -> None:
    with harness(tmp_path) as api:
        jobs = "/apis/batch/v1/namespaces/default/jobs"
        assert api.client.post(jobs, json=json.loads(job_yaml("pi"))).status_code == 201
        smp = {"content-type": "application/strategic-merge-patch+json"}
        resp = api.client.patch(f"{jobs}/pi", content=json.dumps({"spec": {"parallelism": 2}}), headers=smp)
        assert resp.status_code == 200 and resp.json()["spec"]["parallelism"] == 2
        accept = {"accept": "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"}
        cronjobs = "/apis/batch/v1/namespaces/default/cronjobs"
        assert api.client.post(cronjobs, json=yaml.safe_load(CRONJOB_YAML)).status_code == 201
        table = api.client.get(cronjobs, headers=accept).json()
        assert table["kind"] == "Table" and [r["cells"] for r in table["rows"]] == [["nightly"]]
        assert int(table["metadata"]["resourceVersion"]) > 0
        assert api.client.get(f"{jobs}/pi", headers=accept).json()["rows"][0]["cells"] == ["pi"]
        # Lists of Jobs and pods are Tables of kept rows (`rows`), made by the real table module.
        listed = api.client.get(jobs, headers=accept).json()
        assert [r["cells"][:2] for r in listed["rows"]] == [["pi", "Running"]]
    assert fake_modules == [("smp", "Job"), ("table", "CronJob", True), ("table", "Job", True)]
