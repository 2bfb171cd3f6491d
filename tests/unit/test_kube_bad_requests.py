"""What the API fuzzer (tests/integration/test_api_fuzz.py) found, one case each: a request no client
should send gets a 4xx Kubernetes Status naming what is wrong, never a 500, and changes nothing."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from support.apiapp import ApiHarness, harness, job_yaml

JOBS = "/apis/batch/v1/namespaces/default/jobs"
JSON = "application/json"

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
