"""`pods/log` under /api/v1 with kubectl's parameters, over a real SQLite store (the stored tail:
the nodes' engines do not exist); the live and follow paths are `api.logsource`'s."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from support.apiapp import ApiHarness, harness, job_yaml

from miniorch.api.kube import logs

T0 = dt.datetime(2026, 1, 1, 12, 0, tzinfo=dt.UTC)
URL = "/api/v1/namespaces/default/pods/pi-a/log"


@pytest.fixture
def api(tmp_path: Path) -> Iterator[ApiHarness]:
    with harness(tmp_path) as h:
        h.app.include_router(logs.router)
        h.apply(job_yaml("pi"))
        job: dict[str, Any] = h.client.get("/apis/batch/v1/namespaces/default/jobs/pi").json()
        tail = "".join(f"2026-01-01T12:00:0{i}.000000000Z line {i}\n" for i in range(4))
        h.pod("pi-a", job, log_tail=tail, log_timestamped=True, container_removed=True, run_started_at=T0)
        yield h


@pytest.mark.parametrize(
    ("params", "text"),
    [
        ({}, "line 0\nline 1\nline 2\nline 3\n"),
        ({"tailLines": 2}, "line 2\nline 3\n"),
        ({"tailLines": 0}, ""),
        ({"timestamps": "true", "tailLines": 1}, "2026-01-01T12:00:03.000000000Z line 3\n"),
        ({"sinceTime": "2026-01-01T12:00:02Z"}, "line 2\nline 3\n"),
        ({"limitBytes": 9}, "line 0\nli"),
        ({"container": "main", "tailLines": 1}, "line 3\n"),
    ],
)
def test_kubectl_log_parameters_pick_the_lines(api: ApiHarness, params: dict[str, Any], text: str) -> None:
    """tailLines, timestamps, sinceTime, limitBytes and the pod's own container name, as kubectl logs sends them."""
    resp = api.client.get(URL, params=params)
    assert (resp.status_code, resp.text) == (200, text)
    assert resp.headers["content-type"].startswith("text/plain")


@pytest.mark.parametrize(
    ("url", "params", "status", "message"),
    [
        ("/api/v1/namespaces/default/pods/nope/log", {}, 404, 'pods "nope" not found'),
        (URL, {"container": "other"}, 400, "container other is not valid for pod pi-a"),
        (
            URL,
            {"sinceSeconds": 5, "sinceTime": "2026-01-01T12:00:02Z"},
            400,
            "at most one of sinceTime or sinceSeconds",
        ),
        (URL, {"sinceSeconds": 0}, 400, "sinceSeconds: Invalid value: 0: must be greater than 0"),
        (URL, {"sinceTime": "yesterday"}, 400, 'sinceTime "yesterday" is not an RFC 3339 time'),
        (URL, {"sinceTime": "2026-01-01T12:00:02"}, 400, "has no time zone"),
        (URL, {"sinceTime": "9999-12-31T23:00:00-05:00"}, 400, "is out of range"),
        (URL, {"tailLines": -1}, 400, "tailLines: Invalid value: -1"),
        (URL, {"limitBytes": 0}, 400, "limitBytes: Invalid value: 0"),
        (URL, {"previous": "true"}, 400, 'previous terminated container of pod "pi-a" not found'),
    ],
)
def test_bad_log_requests_are_refused_in_the_api_servers_words(
    api: ApiHarness, url: str, params: dict[str, Any], status: int, message: str
) -> None:
    """Not found is 404; a bad parameter is 400 with the API server's text."""
    resp = api.client.get(url, params=params)
    assert resp.status_code == status and message in resp.json()["message"], resp.text


def test_since_seconds_counts_back_from_now() -> None:
    """sinceSeconds=N is now - N; neither parameter is no bound."""
    assert logs.since(30, None, T0) == T0 - dt.timedelta(seconds=30)
    assert logs.since(10**20, None, T0) is None  # beyond any datetime: the whole log (it was a 500)
    assert logs.since(None, "2026-01-01T13:00:00+01:00", T0) == T0
    assert logs.since(None, None, T0) is None
