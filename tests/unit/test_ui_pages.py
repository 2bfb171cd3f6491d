"""The dashboard's pages over a real SQLite store (no Docker): what each shows, its headers, and
that nothing from a manifest or a pod reaches the HTML unescaped."""

from __future__ import annotations

import dataclasses
import datetime as dt
import html
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from support.apiapp import CRONJOB_YAML, ApiHarness, harness, job_yaml
from support.uiseed import finished_status, seed_runs

from miniorch import kinds, ui
from miniorch.store.records import PodPhase

T0 = dt.datetime(2026, 1, 1, 12, 0, tzinfo=dt.UTC)
EVIL = "<img src=x onerror=alert(1)>"


@pytest.fixture
def api(tmp_path: Path) -> Iterator[ApiHarness]:
    with harness(tmp_path) as h:
        yield h


def _job(api: ApiHarness, name: str) -> dict[str, Any]:
    api.apply(job_yaml(name))
    job: dict[str, Any] = api.client.get(f"/apis/batch/v1/namespaces/default/jobs/{name}").json()
    return job


def _text(page: str) -> str:
    """What a user reads: the tags dropped, entities decoded, spaces collapsed."""
    body = page.split("<body>", 1)[-1]
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", body)).split())


def _get(api: ApiHarness, path: str, status: int = 200) -> str:
    resp = api.client.get(path, follow_redirects=False)
    assert resp.status_code == status, resp.text
    text: str = resp.text
    return text


def test_every_page_sets_the_security_headers(api: ApiHarness) -> None:
    """CSP without inline script or style, nosniff, no referrer, no framing, no caching; error pages too."""
    for path, status in (
        ("/ui/", 200),
        ("/ui/k/jobs", 200),
        ("/ui/k/jobs/default/nope", 404),
        ("/ui/static/ui.css", 200),
    ):
        resp = api.client.get(path)
        assert resp.status_code == status
        assert resp.headers["content-security-policy"] == ui.CSP
        assert "'unsafe-inline'" not in ui.CSP and "default-src 'self'" in ui.CSP
        assert resp.headers["x-content-type-options"] == "nosniff"
        assert resp.headers["referrer-policy"] == "no-referrer"
        assert resp.headers["x-frame-options"] == "DENY"


def test_pages_have_no_inline_script_or_style(api: ApiHarness) -> None:
    """The only script is the static follow.js, loaded by the page of a live pod."""
    job = _job(api, "demo")
    api.pod("demo-aaaaa", job)
    for path in ("/ui/", "/ui/nodes", "/ui/k/jobs", "/ui/k/jobs/default/demo", "/ui/pods/default/demo-aaaaa"):
        page = _get(api, path)
        assert re.findall(r"<script[^>]*>", page) in ([], ['<script src="/ui/static/follow.js" defer>'])
        assert (
            "<style" not in page
            and " style=" not in page
            and " on" not in re.sub(r"\s+", " ", page).replace(" onerror", "")
        ), path


def test_the_menu_lists_every_kind_of_the_registry(api: ApiHarness) -> None:
    page = _get(api, "/ui/")
    for info in kinds.REGISTRY:
        if info.kind != kinds.Kind.NODE:
            assert f'href="/ui/k/{info.plural}"' in page
            _get(api, f"/ui/k/{info.plural}")


def test_overview_shows_nodes_and_counts_per_kind(api: ApiHarness) -> None:
    api.store.save_status(_job(api, "good")["metadata"]["uid"], finished_status(T0, 3, ok=True), finished=True)
    api.store.save_status(_job(api, "bad")["metadata"]["uid"], finished_status(T0, 3, ok=False), finished=True)
    _job(api, "busy")
    text = _text(_get(api, "/ui/"))
    assert "3 jobs 1 active 1 complete 1 failed" in text
    assert "0 cronjobs" in text and "0 daemonsets" in text
    assert "n1 NotReady" in text and "n2 NotReady" in text, "engines that do not exist are NotReady"


def test_jobs_list_shows_status_completions_and_duration(api: ApiHarness) -> None:
    uid = _job(api, "good")["metadata"]["uid"]
    api.store.save_status(uid, finished_status(T0, 42, ok=True), finished=True)
    _job(api, "busy")
    text = _text(_get(api, "/ui/k/jobs"))
    assert "NAMESPACE NAME STATUS COMPLETIONS DURATION AGE" in text
    assert "default good Complete 1/1 of 1 42s" in text
    assert "default busy Running 0/1 of 1" in text
    assert text.index("busy") < text.index("good"), "newest first"


def test_a_jobs_page_shows_its_pods_with_node_exit_code_and_duration(api: ApiHarness) -> None:
    job = _job(api, "work")
    api.pod(
        "work-aaaaa",
        job,
        node="n2",
        phase=PodPhase.FAILED,
        exit_code=3,
        reason="Error",
        started_at=T0,
        finished_at=T0 + dt.timedelta(seconds=7),
    )
    text = _text(_get(api, "/ui/k/jobs/default/work"))
    assert "NAME NODE PHASE STATUS EXIT CODE RESTARTS DURATION AGE" in text
    assert "work-aaaaa n2 Failed Error 3 0 7s" in text


def test_a_cronjobs_page_draws_its_runs_and_the_next_fire_time(api: ApiHarness) -> None:
    api.apply(CRONJOB_YAML)
    cj = api.store.get_object("CronJob", "default", "nightly")
    assert cj is not None
    seed_runs(api.store, api.ctx.applier, cj, 4, T0)
    page = _get(api, "/ui/k/cronjobs/default/nightly")
    bars = re.findall(r'<rect class="run (\w+)" data-job="([\w-]+)"[^>]*height="([\d.]+)"', page)
    assert [(cls, name) for cls, name, _ in bars] == [
        ("ok", "nightly-00000"),
        ("ok", "nightly-00001"),
        ("ok", "nightly-00002"),
        ("failed", "nightly-00003"),
    ]
    heights = [float(h) for _, _, h in bars]
    assert heights == sorted(heights) and heights[-1] == 128.0, "the longest run (8 s) fills the chart"
    text = _text(page)
    assert "nightly-00003: Failed, 8s" in text and "8s 12:03:00" in text
    assert re.search(r"NEXT SCHEDULE TIME \d{4}-\d\d-\d\dT03:00:00Z", text)
    assert "SCHEDULE 0 3 * * *" in text


def test_a_pods_page_shows_its_log_and_follows_only_while_it_runs(api: ApiHarness) -> None:
    job = _job(api, "talk")
    stamped = "2026-01-01T12:00:01.5Z hello\n2026-01-01T12:00:02.123456789Z world\n"
    api.pod("talk-aaaaa", job, log_tail=stamped, log_timestamped=True)
    page = _get(api, "/ui/pods/default/talk-aaaaa")
    assert (
        '<pre id="log" data-follow="/ui/pods/default/talk-aaaaa/log/follow?after=2026-01-01T12%3A00%3A02.123456789Z">hello\nworld\n</pre>'
        in page
    )
    assert "follow.js" in page
    done = api.pod("talk-bbbbb", job, phase=PodPhase.SUCCEEDED, exit_code=0, log_tail="bye\n")
    page = _get(api, f"/ui/pods/default/{done.name}")
    assert '<pre id="log">bye\n</pre>' in page and "follow.js" not in page


def test_html_in_names_labels_annotations_and_logs_shows_as_text(api: ApiHarness) -> None:
    """A pod named and labelled with HTML (written as the store would hold it) is escaped everywhere."""
    job = _job(api, "xss")
    rec = api.pod("xss-aaaaa", job, labels={"job-name": "xss", "evil": EVIL}, log_tail=f"{EVIL}\n")
    api.store.save_pod(dataclasses.replace(rec, uid="uid-evil", name=EVIL, annotations={"note": EVIL}))
    for path in ("/ui/k/pods", "/ui/k/jobs/default/xss", f"/ui/pods/default/{EVIL}", "/ui/pods/default/xss-aaaaa"):
        page = _get(api, path)
        assert "<img" not in page, path
        assert html.escape(EVIL, quote=False) in page, path
    assert EVIL in _text(_get(api, f"/ui/pods/default/{EVIL}"))


def test_a_missing_object_is_an_html_404_that_escapes_the_name(api: ApiHarness) -> None:
    page = _get(api, f"/ui/k/jobs/default/{EVIL}", status=404)
    assert "<img" not in page and "not found" in _text(page)
    assert "the dashboard has no page" in _text(_get(api, "/ui/k/widgets", status=404))


def test_data_keys_are_listed_without_their_values(api: ApiHarness) -> None:
    """A kind with `data` (ConfigMap, Secret) shows its keys; the values never reach the page."""
    rec = api.store.get_object("Job", "default", _job(api, "holder")["metadata"]["name"])
    assert rec is not None
    manifest = {**rec.manifest, "data": {"password": "c2VjcmV0LXZhbHVl"}, "stringData": {"user": "admin-name"}}
    api.store.save_manifest(rec.uid, manifest, rec.generation, rec.source)
    page = _get(api, "/ui/k/jobs/default/holder")
    assert "<code>password</code>" in page and "<code>user</code>" in page
    assert "c2VjcmV0LXZhbHVl" not in page and "admin-name" not in page


def test_lists_are_paged_newest_first(api: ApiHarness) -> None:
    api.apply(CRONJOB_YAML)
    cj = api.store.get_object("CronJob", "default", "nightly")
    assert cj is not None
    seed_runs(api.store, api.ctx.applier, cj, 130, T0)
    first = _text(_get(api, "/ui/k/jobs"))
    assert "130 jobs, newest first, 100 a page" in first and "page 1 of 2" in first
    assert "nightly-00129" in first and "nightly-00029" not in first
    second = _text(_get(api, "/ui/k/jobs?page=2"))
    assert "nightly-00029" in second and "nightly-00000" in second and "nightly-00030" not in second


def test_the_unix_socket_needs_no_login(api: ApiHarness) -> None:
    """Without the TCP gate (the socket's file mode is the authentication) login leads home."""
    resp = api.client.get("/ui/login", follow_redirects=False)
    assert resp.status_code == 303 and resp.headers["location"] == "/ui/"
    assert "Log out" not in _get(api, "/ui/")


def test_the_follow_of_a_pod_whose_node_cannot_answer_adds_only_newer_stored_lines(api: ApiHarness) -> None:
    """No live stream: the stored tail, less what the page showed (all of an unstamped tail)."""
    job = _job(api, "quiet")
    api.pod("quiet-aaaaa", job, log_tail="2026-01-01T12:00:01Z one\n2026-01-01T12:00:02.5Z two\n", log_timestamped=True)
    api.pod("quiet-bbbbb", job, log_tail="old plain line\n")
    follow = "/ui/pods/default/quiet-aaaaa/log/follow"
    assert api.client.get(follow, params={"after": "2026-01-01T12:00:01Z"}).text == "two\n"
    assert api.client.get(follow, params={"after": "2026-01-01T12:00:02.5Z"}).text == ""
    assert api.client.get(follow).text == "one\ntwo\n", "the page had no line: all are new"
    assert api.client.get("/ui/pods/default/quiet-bbbbb/log/follow").text == ""
