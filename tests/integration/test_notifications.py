"""Failure notifications on the real test nodes: a real daemon POSTs to receivers the test runs on 127.0.0.1."""

from __future__ import annotations

import contextlib
import json
import math
import os
import signal
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from support.daemon import Daemon, job_yaml
from support.receivers import Receiver

pytestmark = pytest.mark.both_backends  # the queue lives in the Store: alike on both (DESIGN 8)


def cronjob_yaml(name: str, schedule: str, command: str, **spec: Any) -> str:
    """A CronJob whose Jobs run `sh -c command` once."""
    job = yaml.safe_load(job_yaml(name, command, backoff_limit=0))
    body = {
        "apiVersion": "batch/v1",
        "kind": "CronJob",
        "metadata": {"name": name},
        "spec": {"schedule": schedule, **spec, "jobTemplate": {"spec": job["spec"]}},
    }
    return yaml.safe_dump(body, sort_keys=False)


def _daemon(tmp_path: Path, nodes: list[Any], database_url: str | None, receivers: list[dict[str, Any]]) -> Daemon:
    extra: dict[str, Any] = {"notify": receivers}
    if database_url:
        extra["database"] = database_url
    return Daemon(tmp_path, [(n.name, n.url) for n in nodes], extra=extra)


@contextlib.contextmanager
def running(d: Daemon) -> Iterator[Daemon]:
    d.start(timeout=60)  # the tests restart daemons: room for a slow start on a busy CI host
    try:
        yield d
    finally:
        if d.proc is not None and d.proc.poll() is None:
            d.stop()


def _failing_job(d: Daemon, name: str) -> float:
    """Apply a Job whose one pod prints 25 lines and exits 3; the time its Failed condition was seen."""
    d.apply(job_yaml(name, "for i in $(seq 1 25); do echo line-$i; done; exit 3", backoff_limit=0), f"{name}.yaml")
    d.wait_job(name, condition="Failed", timeout=60)
    return time.time()


def test_a_failing_job_is_posted_once_within_5s_with_its_pods_last_log_lines(
    docker_nodes: list[Any], tmp_path: Path, database_url: str | None
) -> None:
    """JobFailed reaches the json receiver and the slack one within 5 s: object, reason, node, last 20 log lines."""
    with Receiver("ok") as hook, Receiver("ok") as chat:
        receivers: list[dict[str, Any]] = [
            {"name": "hook", "url": hook.url, "format": "json"},
            {"name": "chat", "url": chat.url, "format": "slack", "events": ["JobFailed"]},
        ]
        with running(_daemon(tmp_path, docker_nodes, database_url, receivers)) as d:
            failed_at = _failing_job(d, "boom")
            d.wait_for(lambda: hook.delivered() and chat.delivered(), timeout=5, what="both POSTs")
            time.sleep(1.5)  # nothing more comes
            (post,) = hook.received
            body = post.body
            assert body["event"] == "JobFailed" and body["reason"] == "BackoffLimitExceeded"
            assert body["object"]["kind"] == "Job" and body["object"]["name"] == "boom"
            assert body["object"]["namespace"] == "default" and body["object"]["uid"]
            assert body["node"] in {n.name for n in docker_nodes} and body["pod"].startswith("boom-")
            assert body["log"] == [f"line-{i}" for i in range(6, 26)]
            assert body["id"] and post.at - failed_at < 5
            (slack,) = chat.received
            assert "Job failed" in slack.body["text"] and "default/boom" in slack.body["text"]
            assert "line-25" in json.dumps(slack.body["blocks"])
            assert "secret-token" not in d.log_text()  # the URL's path never reaches the log
            assert d.ctl("get", "notifications").stdout.strip() == "No pending or failed notifications."


@pytest.mark.parametrize("database_url", ["sqlite", "postgresql"], indirect=True)
def test_a_receiver_down_across_a_restart_gets_everything_after_it_recovers_and_nothing_twice(
    docker_nodes: list[Any], tmp_path: Path, database_url: str | None
) -> None:
    """Queued in the store: the failing receiver gets each fact once it answers, after a daemon restart."""
    with Receiver("fail") as flaky, Receiver("ok") as steady:
        receivers = [{"name": "flaky", "url": flaky.url}, {"name": "steady", "url": steady.url}]
        d = _daemon(tmp_path, docker_nodes, database_url, receivers)
        with running(d):
            _failing_job(d, "one")
            d.wait_for(lambda: len(flaky.received) >= 1, timeout=5, what="a first (refused) POST")
            shown = d.ctl("get", "notifications", "-o", "json", check=True).stdout
            (item,) = json.loads(shown)["items"]
            assert item["receiver"] == "flaky" and item["state"] == "pending" and "503" in item["lastError"]
            table = d.ctl("get", "notifications", check=True).stdout
            assert "flaky" in table and "job/default/one" in table and "HTTP 503" in table
        with running(d):
            _failing_job(d, "two")
            d.wait_for(lambda: len(steady.delivered()) == 2, timeout=10, what="steady has both")
            flaky.recover()
            d.wait_for(lambda: len(flaky.delivered()) == 2, timeout=15, what="flaky has both after recovering")
            time.sleep(2)
            names = sorted(p.body["object"]["name"] for p in flaky.delivered())
            assert names == ["one", "two"] and len(flaky.delivered()) == 2 and len(steady.received) == 2
            assert len({p.body["id"] for p in flaky.received if p.body["object"]["name"] == "one"}) == 1


def test_a_hanging_receiver_does_not_delay_the_others_and_is_listed_with_its_error(
    docker_nodes: list[Any], tmp_path: Path, database_url: str | None
) -> None:
    """Three Jobs fail while one receiver never answers: the other gets all three within 5 s."""
    with Receiver("hang") as stuck, Receiver("ok") as fine:
        receivers: list[dict[str, Any]] = [
            {"name": "stuck", "url": stuck.url, "timeout_seconds": 2},
            {"name": "fine", "url": fine.url},
        ]
        with running(_daemon(tmp_path, docker_nodes, database_url, receivers)) as d:
            for name in ("h1", "h2", "h3"):
                d.apply(job_yaml(name, "exit 1", backoff_limit=0), f"{name}.yaml")
            for name in ("h1", "h2", "h3"):
                d.wait_job(name, condition="Failed", timeout=60)
            done = time.time()
            d.wait_for(lambda: len(fine.delivered()) == 3, timeout=5, what="fine has all three")
            assert max(p.at for p in fine.delivered()) - done < 5
            out = d.ctl("get", "notifications", "-o", "yaml", check=True).stdout
            d.wait_for(
                lambda: "no answer within 2 s" in d.ctl("get", "notifications").stdout, timeout=10, what="the error"
            )
            assert "stuck" in out and "fine" not in d.ctl("get", "notifications").stdout


class UnixRelay:
    """A unix socket that forwards to a node's socket, until `cut()`: the node then stops answering."""

    def __init__(self, path: Path, target: str) -> None:
        self.path, self.target = path, target
        self._listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._listener.bind(str(path))
        self._listener.listen(64)
        self._open: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return
            upstream = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            upstream.connect(self.target)
            self._open += [conn, upstream]
            for a, b in ((conn, upstream), (upstream, conn)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    @staticmethod
    def _pump(src: socket.socket, dst: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := src.recv(65536):
                dst.sendall(data)
        with contextlib.suppress(OSError):
            dst.shutdown(socket.SHUT_WR)

    def cut(self) -> None:
        self._listener.close()
        os.unlink(self.path)
        for s in self._open:
            with contextlib.suppress(OSError):
                s.close()


def test_a_node_turning_notready_and_a_missed_cronjob_slot_are_notified(
    docker_nodes: list[Any], tmp_path: Path, database_url: str | None
) -> None:
    """NodeNotReady names the node; a slot missed while the daemon was down (startingDeadlineSeconds) is CronJobMissed.

    The CronJob's one slot a minute falls 30 s after it is applied, while the daemon is down: after
    the restart the most recent slot is always over a second old (with a slot every few seconds the
    restarted daemon may look within a second of a fresh slot and run it, as Kubernetes would)."""
    relay = UnixRelay(tmp_path / "relay.sock", str(docker_nodes[0].socket))
    with Receiver("ok") as hook:
        extra: dict[str, Any] = {"notify": [{"name": "hook", "url": hook.url}]}
        if database_url:
            extra["database"] = database_url
        nodes = [(n.name, n.url) for n in docker_nodes[1:]] + [("relayed", f"unix://{relay.path}")]
        d = Daemon(tmp_path, nodes, extra=extra)
        with running(d):
            d.wait_for(lambda: d.api("GET", "/api/v1/nodes/relayed")["status"]["conditions"][0]["status"] == "True")
            slot = math.ceil(time.time()) + 30
            schedule = f"{slot % 60} * * * * *"
            d.apply(cronjob_yaml("nightly", schedule, "true", startingDeadlineSeconds=1), "cj.yaml")
            d.wait_for(lambda: "nightly" in d.ctl("get", "cronjobs").stdout, timeout=15, what="the CronJob")
            relay.cut()
            d.wait_for(lambda: any(p.body["event"] == "NodeNotReady" for p in hook.delivered()), timeout=15)
        assert time.time() < slot, "the slot came before the daemon was stopped: the test cannot tell a miss"
        node_post = next(p.body for p in hook.delivered() if p.body["event"] == "NodeNotReady")
        assert node_post["node"] == "relayed" and node_post["object"]["kind"] == "Node"
        assert node_post["object"]["namespace"] is None
        time.sleep(slot + 2 - time.time())  # the slot passes while the daemon is down
        with running(d):
            d.wait_for(lambda: any(p.body["event"] == "CronJobMissed" for p in hook.delivered()), timeout=20)
        missed = next(p.body for p in hook.delivered() if p.body["event"] == "CronJobMissed")
        assert missed["reason"] == "MissSchedule" and missed["object"]["name"] == "nightly"
        assert "Missed scheduled time" in missed["message"]


def test_the_alerting_metrics_appear_after_a_cronjob_ran(daemon: Daemon) -> None:
    """/metrics: the CronJob's last schedule and success times, a Job duration histogram, build info."""
    daemon.apply(cronjob_yaml("backup", "*/3 * * * * *", "sleep 1"), "backup.yaml")

    def succeeded() -> bool:
        status = daemon.api("GET", "/apis/batch/v1/namespaces/default/cronjobs/backup")["status"]
        return bool(status.get("lastSuccessfulTime"))

    daemon.wait_for(succeeded, timeout=30, what="a successful run")
    text = daemon.api("GET", "/metrics")
    started = time.time()
    lines = {line.split(" ")[0]: line.rsplit(" ", 1)[1] for line in text.splitlines() if not line.startswith("#")}
    key = 'miniorch_cronjob_last_successful_timestamp_seconds{cronjob="backup",namespace="default"}'
    assert abs(float(lines[key]) - started) < 30
    assert 'miniorch_cronjob_last_schedule_timestamp_seconds{cronjob="backup",namespace="default"}' in lines
    count = 'miniorch_job_duration_seconds_count{condition="Complete",namespace="default",owner="backup"}'
    assert float(lines[count]) >= 1
    assert any(k.startswith("miniorch_build_info{") for k in lines)


def _daemonset(name: str, command: str) -> str:
    container = {"name": "agent", "image": "miniorch.local/busybox:latest", "command": ["sh", "-c", command]}
    spec = {
        "selector": {"matchLabels": {"app": name}},
        "template": {
            "metadata": {"labels": {"app": name}},
            "spec": {"terminationGracePeriodSeconds": 1, "containers": [container]},
        },
    }
    return yaml.safe_dump({"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": name}, "spec": spec})


def test_a_crash_looping_daemonset_pod_and_a_receiver_added_by_reload_are_notified(
    docker_nodes: list[Any], tmp_path: Path
) -> None:
    """SIGHUP with a new receiver: it gets the next facts; a DaemonSet whose agent keeps exiting is one of them."""
    with Receiver("ok") as first, Receiver("ok") as added:
        d = _daemon(tmp_path, docker_nodes[:1], None, [{"name": "first", "url": first.url, "events": ["JobFailed"]}])
        with running(d):
            config = yaml.safe_load(d.config_path.read_text())
            config["notify"] = [{"name": "added", "url": added.url, "events": ["DaemonSetPodCrashLooping"]}]
            d.config_path.write_text(yaml.safe_dump(config))
            assert d.proc is not None
            d.proc.send_signal(signal.SIGHUP)
            d.wait_for(lambda: "config_reloaded" in d.log_text(), timeout=10, what="the reload")
            d.apply(_daemonset("agent", "echo agent-crashed; exit 2"), "ds.yaml")
            d.wait_for(lambda: added.delivered(), timeout=90, what="a crash-loop notification")
        body = added.delivered()[0].body
        assert body["event"] == "DaemonSetPodCrashLooping" and body["object"]["name"] == "agent"
        assert body["node"] == docker_nodes[0].name and "agent-crashed" in body["log"]
        assert first.received == []
