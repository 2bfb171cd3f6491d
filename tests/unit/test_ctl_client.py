"""`miniorch ctl`'s HTTP client against the real API under uvicorn (unix socket and TCP), without
Docker: every call through its typed method on the Kubernetes paths, chunked streams, the event
watch across the daemon's ends of it, and each failure as a sentence in ctl's words."""

from __future__ import annotations

import datetime as dt
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from support.apiapp import CRONJOB_YAML, ApiHarness, harness, job_yaml, serve, tcp_port

from miniorch.api import models
from miniorch.api.auth import TokenAuth
from miniorch.api.kube import watch as kube_watch
from miniorch.cli.client import Client, CtlError, NotFoundError, path_of
from miniorch.store import versions
from miniorch.store.records import EventRecord

TOKEN = "0123456789abcdef0123"


@pytest.fixture
def api(tmp_path: Path) -> Iterator[tuple[ApiHarness, Client]]:
    with harness(tmp_path, drain_left=["x"]) as h, serve(h.app, uds=str(tmp_path / "api.sock")):
        yield h, Client(tmp_path / "api.sock", timeout=10)


def test_objects_through_the_typed_methods(api: tuple[ApiHarness, Client]) -> None:
    h, c = api
    applied = c.apply(models.ApplyRequest("t", job_yaml("pi")))
    assert applied["results"] == [{"kind": "Job", "namespace": "default", "name": "pi", "action": "created"}]
    assert applied["warnings"] == []
    assert c.dry_run(models.DryRunRequest("t", job_yaml("pi")))["results"][0]["action"] == "unchanged"
    assert [o["metadata"]["name"] for o in c.list_objects("Job", selector="app=demo")] == ["pi"]
    assert c.get_object("Job", "default", "pi")["kind"] == "Job"
    assert c.patch_object("Job", "default", "pi", {"spec": {"parallelism": 2}})["action"] == "patched"
    c.apply(models.ApplyRequest("t", CRONJOB_YAML))
    assert c.run_cronjob("default", "nightly", "by-hand")["metadata"]["name"] == "by-hand"
    assert c.delete_object("Job", "default", "pi")["metadata"]["name"] == "pi"
    rec = h.store.get_object("Job", "default", "pi")
    assert rec is not None and rec.deleting


def test_nodes_pods_logs_and_version(api: tuple[ApiHarness, Client]) -> None:
    h, c = api
    assert c.version()["version"]
    assert [n["metadata"]["name"] for n in c.list_nodes("zone=n1")] == ["n1"]
    c.patch_node("n1", models.NodePatch(labels={"disk": "ssd"}))
    c.patch_node("n1", models.NodePatch(unschedulable=True))
    assert c.get_node("n1")["metadata"]["labels"]["disk"] == "ssd"
    assert h.store.node_overrides()["n1"].unschedulable
    assert c.drain_node("n2") == {"node": "n2", "remaining": ["x"]}
    c.apply(models.ApplyRequest("t", job_yaml("pi")))
    job = c.get_object("Job", "default", "pi")
    h.pod("pi-a", job, log_tail="one\ntwo\n", container_removed=True)
    assert [p["metadata"]["name"] for p in c.list_pods(owner=job["metadata"]["uid"])] == ["pi-a"]
    assert c.get_pod("default", "pi-a")["metadata"]["name"] == "pi-a"
    assert c.pod_log("default", "pi-a", tail=1, timestamps=False, since_seconds=None) == "two\n"
    assert b"".join(c.follow_log("default", "pi-a")) == b"one\ntwo\n"


@pytest.mark.parametrize(
    ("args", "path"),
    [
        (("Job",), "/apis/batch/v1/jobs"),
        (("Job", "default"), "/apis/batch/v1/namespaces/default/jobs"),
        (("DaemonSet", "ops", "agent"), "/apis/apps/v1/namespaces/ops/daemonsets/agent"),
        (("Pod", "default", "pi-a"), "/api/v1/namespaces/default/pods/pi-a"),
        (("Event",), "/api/v1/events"),
        (("Node", None, "n1"), "/api/v1/nodes/n1"),
        (("Node", "default", "n1"), "/api/v1/nodes/n1"),
    ],
)
def test_paths_come_from_the_kind_registry(args: tuple[Any, ...], path: str) -> None:
    assert path_of(*args) == path


def test_a_patch_that_changes_nothing_says_so(api: tuple[ApiHarness, Client]) -> None:
    """The action comes from the generation before and after: ctl prints "patched (no change)"."""
    _, c = api
    c.apply(models.ApplyRequest("t", job_yaml("pi")))
    assert c.patch_object("Job", "default", "pi", {"spec": {"parallelism": 2}})["action"] == "patched"
    again = c.patch_object("Job", "default", "pi", {"spec": {"parallelism": 2}})
    assert (again["action"], again["object"]["spec"]["parallelism"]) == ("unchanged", 2)


def _event(h: ApiHarness, uid: str, reason: str) -> None:
    now = dt.datetime.now(dt.UTC)
    h.store.record_event(
        EventRecord("default", "Job", "pi", uid, "Normal", reason, "made", first_timestamp=now, last_timestamp=now)
    )


def test_a_watch_reads_a_chunked_stream_as_it_arrives(api: tuple[ApiHarness, Client]) -> None:
    h, c = api
    h.apply(job_yaml("pi"))  # records no event by itself: add one
    _event(h, "u1", "Created")
    stream = c.watch_events("default")
    first = next(stream)
    _event(h, "u2", "Completed")
    second = next(stream)
    stream.close()  # an endless stream: closing it ends the request
    assert (first["type"], first["object"]["reason"]) == ("ADDED", "Created")
    assert (second["type"], second["object"]["reason"]) == ("ADDED", "Completed")


def test_the_event_watch_goes_on_after_the_daemon_ends_it_or_its_version_expires(
    api: tuple[ApiHarness, Client], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each event once: a watch the daemon ended (timeoutSeconds) is listed again and resumed, and so is
    one whose version left the change log (410)."""
    h, c = api
    monkeypatch.setattr(kube_watch, "DEFAULT_TIMEOUT", 0.2)
    _event(h, "u1", "Created")
    stream = c.watch_events()
    assert next(stream)["object"]["reason"] == "Created"
    time.sleep(0.5)  # the daemon ended that watch meanwhile
    _event(h, "u2", "Started")
    assert next(stream)["object"]["reason"] == "Started"
    real = h.store.changes_since
    expired = iter([True])

    def once_gone(rv: int, kinds: Any, limit: int = 5000) -> Any:
        if next(expired, False):
            raise versions.Gone("too old")
        return real(rv, kinds, limit)

    time.sleep(0.5)
    monkeypatch.setattr(h.store, "changes_since", once_gone)
    _event(h, "u3", "Completed")
    change = next(stream)
    stream.close()
    assert (change["type"], change["object"]["reason"]) == ("ADDED", "Completed")


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda c: c.get_object("Job", "default", "nope"), NotFoundError, 'job.batch "nope" not found'),
        (lambda c: c.get_node("n9"), NotFoundError, 'node "n9" not found'),
        (lambda c: c.drain_node("n9"), NotFoundError, 'node "n9" not found'),
        (lambda c: c.get_pod("default", "nope"), NotFoundError, 'pod "nope" not found in namespace "default"'),
        (lambda c: c.pod_log("default", "nope"), NotFoundError, 'pod "nope" not found in namespace "default"'),
        (
            lambda c: b"".join(c.follow_log("default", "nope")),
            NotFoundError,
            'pod "nope" not found in namespace "default"',
        ),
        (lambda c: c.delete_pod("default", "nope"), NotFoundError, 'pods "nope" not found'),
        (
            lambda c: c.delete_object("Job", "default", "nope"),
            NotFoundError,
            'job "nope" not found in namespace "default"',
        ),
        (
            lambda c: c.patch_object("Job", "default", "nope", {}),
            NotFoundError,
            'job "nope" not found in namespace "default"',
        ),
        (
            lambda c: c.revisions("default", "nope"),
            NotFoundError,
            'daemonsets.apps "nope" not found',
        ),
        (
            lambda c: c.run_cronjob("default", "nope", "x"),
            NotFoundError,
            'cronjob.batch "nope" not found in namespace "default"',
        ),
        (
            lambda c: c.request("POST", "/apply", json={"source": "t"}),
            CtlError,
            "the daemon refused the request: text: Field required",
        ),
        (
            lambda c: c.apply(models.ApplyRequest("bad.yaml", "kind: [")),
            CtlError,
            "bad.yaml",
        ),
    ],
)
def test_refusals_become_the_daemons_sentence(
    api: tuple[ApiHarness, Client], call: Any, error: type[Exception], message: str
) -> None:
    _, c = api
    with pytest.raises(error) as caught:
        call(c)
    assert str(caught.value) == message if error is NotFoundError else message in str(caught.value)


def test_a_failure_inside_the_daemon_points_at_its_log(
    api: tuple[ApiHarness, Client], monkeypatch: pytest.MonkeyPatch
) -> None:
    h, c = api

    def boom(*_: Any, **__: Any) -> Any:
        raise RuntimeError("a bug")

    monkeypatch.setattr(h.store, "list_objects", boom)
    with pytest.raises(CtlError, match=r"the daemon failed on this request \(HTTP 500\); its log says why"):
        c.list_objects("Job")


def test_no_daemon_on_the_socket_says_how_to_start_one(tmp_path: Path) -> None:
    with pytest.raises(CtlError, match=r"\(no such socket\); start it with 'miniorch daemon"):
        Client(tmp_path / "absent.sock").version()
    stale = tmp_path / "stale.sock"
    with socket.socket(socket.AF_UNIX) as s:
        s.bind(str(stale))  # bound, never listening: a daemon that died
    with pytest.raises(CtlError, match=r"\(connection refused\)"):
        Client(stale).version()


def test_tcp_with_the_bearer_token_and_without(tmp_path: Path) -> None:
    with harness(tmp_path) as h, serve(TokenAuth(h.app, TOKEN.encode()), host="127.0.0.1", port=0) as server:
        url = f"http://127.0.0.1:{tcp_port(server)}"
        assert Client(tmp_path, server=url, token=TOKEN).version()["version"]
        with pytest.raises(
            CtlError, match=r"bearer token is required .*\(the daemon refused the token; check --token-file\)"
        ):
            Client(tmp_path, server=url, token="wrong-token-wrong-token").version()
    with pytest.raises(CtlError, match=rf"cannot reach the miniorch daemon at {url} \(connection refused\)"):
        Client(tmp_path, server=url, token=TOKEN).version()


def test_a_server_url_that_is_not_http_is_refused(tmp_path: Path) -> None:
    with pytest.raises(CtlError, match="use http://HOST:PORT or https://HOST:PORT"):
        Client(tmp_path, server="ftp://host:1", token=TOKEN).version()


def test_a_big_answer_reads_as_the_small_one_does_even_what_orjson_refuses() -> None:
    """Lists past BIG_BODY are decoded by orjson; the same values, and the stdlib's reading of
    integers past 64 bits (which orjson refuses)."""
    import json

    from miniorch.cli.transport import BIG_BODY, Reply

    rows = [{"cells": [f"job-{i}", "Complete", "1/1", 3, "é"]} for i in range(BIG_BODY // 20)]
    body = json.dumps({"kind": "Table", "rows": rows}).encode()
    assert len(body) > BIG_BODY
    assert Reply(200, "application/json", body).json()["rows"] == rows
    huge = json.dumps({"n": 2**70, "pad": "x" * BIG_BODY}).encode()
    assert Reply(200, "application/json", huge).json()["n"] == 2**70
    assert Reply(200, "application/json", b'{"a": 1}').json() == {"a": 1}
