"""What the API fuzzer (tests/integration/test_api_fuzz.py) found, one case each: a request no client
should send gets a 4xx Kubernetes Status naming what is wrong, never a 500, and changes nothing."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from support.apiapp import ApiHarness, harness, job_yaml

from miniorch.api.kube import patch
from miniorch.spec import loader
from miniorch.spec.errors import ManifestInvalid

JOBS = "/apis/batch/v1/namespaces/default/jobs"
JSON = "application/json"
MERGE = "application/merge-patch+json"

# (method, path, body, content type) -> (code, a part of the message)
CASES: dict[str, tuple[str, str, bytes | None, str, int, str]] = {
    "watch from a version beyond 64 bits": (
        "GET",
        f"{JOBS}?watch=1&resourceVersion=99999999999999999999999&timeoutSeconds=1",
        None,
        JSON,
        400,
        "is not a resource version of this server",
    ),
    "watch from a negative version": (
        "GET",
        f"{JOBS}?watch=1&resourceVersion=-5&timeoutSeconds=1",
        None,
        JSON,
        400,
        "is not a resource version of this server",
    ),
    "annotations not an object": (
        "POST",
        JOBS,
        b'{"metadata": {"name": "x", "annotations": 5}}',
        JSON,
        422,
        "metadata.annotations: Invalid value: must be an object of strings",
    ),
    "annotations of numbers, by PUT": (
        "PUT",
        f"{JOBS}/pj",
        b'{"metadata": {"name": "pj", "annotations": {"a": 1}}}',
        JSON,
        422,
        "metadata.annotations: Invalid value",
    ),
    "a PUT whose metadata is not an object": (
        "PUT",
        f"{JOBS}/pj",
        b'{"metadata": true}',
        JSON,
        422,
        "metadata: Invalid value: must be an object",
    ),
    "ownerReferences not a list": (
        "POST",
        JOBS,
        b'{"metadata": {"name": "x", "ownerReferences": 5}}',
        JSON,
        422,
        "metadata.ownerReferences: Invalid value: must be a list of objects",
    ),
    "a merge patch making the annotations a number": (
        "PATCH",
        f"{JOBS}/pj",
        b'{"metadata": {"annotations": 5}}',
        MERGE,
        422,
        "metadata.annotations: Invalid value",
    ),
    "a json patch making the metadata a number": (
        "PATCH",
        f"{JOBS}/pj",
        b'[{"op": "add", "path": "/metadata", "value": 5}]',
        "application/json-patch+json",
        422,
        "metadata: Invalid value: must be an object",
    ),
    "a node patch making the metadata a number": (
        "PATCH",
        "/api/v1/nodes/n1",
        b'{"metadata": 5}',
        MERGE,
        422,
        "metadata",
    ),
    "a node patch making the spec a number": ("PATCH", "/api/v1/nodes/n1", b'{"spec": 5}', MERGE, 422, "spec"),
    "a node patch with a label of a number": (
        "PATCH",
        "/api/v1/nodes/n1",
        b'{"metadata": {"labels": {"a": 1}}}',
        MERGE,
        422,
        "metadata.labels: Invalid value: must be an object of strings",
    ),
    "a body nested past the JSON decoder's limit": (
        "POST",
        JOBS,
        b'{"a":' * 100_000 + b"1" + b"}" * 100_000,
        JSON,
        400,
        "the request body nests deeper than 100 levels",
    ),
    "a patch nested deeper than any object": (
        "PATCH",
        f"{JOBS}/pj",
        b'{"spec": ' + b'{"a": ' * 900 + b"1" + b"}" * 901,
        MERGE,
        400,
        "the request body nests deeper than 100 levels",
    ),
    "delete options that are not an object": (
        "DELETE",
        f"{JOBS}/pj",
        b"[1]",
        JSON,
        400,
        "the request body must be DeleteOptions, a JSON object",
    ),
    "an activeDeadlineSeconds beyond int64": (
        "POST",
        JOBS,
        json.dumps(
            {
                **json.loads(job_yaml("big")),
                "spec": {**json.loads(job_yaml("big"))["spec"], "activeDeadlineSeconds": 2**63},
            }
        ).encode(),
        JSON,
        422,
        "spec.activeDeadlineSeconds: Invalid value: 9223372036854775808",
    ),
    "an annotation holding a lone surrogate": (
        "POST",
        JOBS,
        json.dumps(
            {**json.loads(job_yaml("sur")), "metadata": {"name": "sur", "annotations": {"a": "\ud800"}}}
        ).encode(),
        JSON,
        400,
        "the request body is not valid Unicode at metadata.annotations.a",
    ),
    "a node label key holding a lone surrogate": (
        "PATCH",
        "/api/v1/nodes/n1",
        b'{"metadata": {"labels": {"\\udc00x": "y"}}}',
        MERGE,
        400,
        "the request body is not valid Unicode at metadata.labels.\\udc00x",
    ),
}


@pytest.fixture
def api(tmp_path: Path) -> Any:
    with harness(tmp_path) as h:
        resp = h.client.post(JOBS, json=json.loads(job_yaml("pj")))
        assert resp.status_code == 201, resp.text
        yield h


@pytest.mark.parametrize("case", list(CASES))
def test_a_bad_request_is_a_4xx_status_and_the_object_is_unchanged(api: ApiHarness, case: str) -> None:
    method, path, body, media, code, text = CASES[case]
    before = api.client.get(f"{JOBS}/pj").json()
    resp = api.client.request(method, path, content=body, headers={"content-type": media})
    assert resp.status_code == code, resp.text
    status = resp.json()
    assert status["kind"] == "Status" and status["code"] == code and text in status["message"], status
    assert api.client.get(f"{JOBS}/pj").json() == before
    assert api.client.get(JOBS).status_code == 200  # every object still reads (a stored surrogate broke the list)


def test_depth_counts_objects_and_arrays() -> None:
    values: list[Any] = [1, {}, [[]], {"a": [1, {"b": None}]}]
    assert [patch.depth(v) for v in values] == [0, 1, 2, 3]


def test_a_manifest_file_with_a_lone_surrogate_is_refused_with_its_field() -> None:
    """YAML's "\\ud800" escape decodes to a lone surrogate as JSON's does: the loader refuses it for every source."""
    text = job_yaml("sur").replace('"name": "sur"', '"name": "sur", "annotations": {"a": "\\ud800"}')
    with pytest.raises(ManifestInvalid) as caught:
        loader.load_text(text, "jobs.d/sur.yaml")
    assert "metadata.annotations.a" in str(caught.value) and "lone UTF-16 surrogate" in str(caught.value)
