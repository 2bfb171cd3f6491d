"""ConfigMaps and Secrets on real nodes (DESIGN 9): env and files in containers on a local and a TLS
node, a missing key that appears later, optional references, modes seen with `stat`, an update that
leaves running pods alone; a Secret's value found nowhere but in the container; the key file's rules."""

from __future__ import annotations

import base64
import contextlib
import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from support import dockernodes, tlsdocker
from support.daemon import MINIORCH, Daemon, job_yaml

VALUE = "Zq9-plain-7731-text"  # the Secret's value: must show only inside the container
QUERY = "SELECT count(*) FROM orders"


def manifests(password: str = VALUE, mode: str = "nightly") -> str:
    cm = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "etl"},
        "data": {"mode": mode, "query.sql": QUERY},
    }
    secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "db"}, "stringData": {"password": password}}
    return yaml.safe_dump_all([cm, secret])


#: A container that reads both kinds: env (valueFrom, envFrom with a prefix) and files (items, subPath, modes).
READER = {
    "env": [
        {"name": "PW", "valueFrom": {"secretKeyRef": {"name": "db", "key": "password"}}},
        {"name": "NOPE", "valueFrom": {"secretKeyRef": {"name": "db", "key": "absent", "optional": True}}},
    ],
    "envFrom": [{"configMapRef": {"name": "etl"}, "prefix": "CFG_"}],
    "volumeMounts": [
        {"name": "cfg", "mountPath": "/etc/etl"},
        {"name": "sec", "mountPath": "/run/db"},
        {"name": "cfg", "mountPath": "/q.sql", "subPath": "query.sql"},
        {"name": "opt", "mountPath": "/opt/none"},
    ],
}
VOLUMES = [
    {"name": "cfg", "configMap": {"name": "etl", "defaultMode": 0o440}},
    {"name": "sec", "secret": {"secretName": "db", "items": [{"key": "password", "path": "creds/pw", "mode": 0o400}]}},
    {"name": "opt", "configMap": {"name": "not-there", "optional": True}},
]
SCRIPT = (
    'echo "pw=$PW mode=$CFG_mode nope=${NOPE-unset}"; echo "file=$(cat /run/db/creds/pw)"; '
    'echo "q=$(cat /q.sql)"; echo "modes=$(stat -c %a /etc/etl/mode /run/db/creds/pw /etc/etl)"; '
    "ls /opt/none && echo opt-empty"
)


def reader_job(name: str, node: str, script: str = SCRIPT) -> str:
    return job_yaml(
        name,
        script,
        container=READER,
        pod_spec={"volumes": VOLUMES, "nodeSelector": {"kubernetes.io/hostname": node}},
        extra_spec={"backoffLimit": 0},
    )


def logs(d: Daemon, job: str) -> str:
    return d.ctl("logs", f"job/{job}", check=True).stdout


@pytest.fixture(scope="module")
def tls_node(docker_nodes: list[dockernodes.DockerNode], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    pki = tlsdocker.make_pki(tmp_path_factory.mktemp("pki"))
    tls = tlsdocker.TlsNode(docker_nodes[0].base_dir, pki, name="tls41")
    try:
        tls.start()
        yield tls
    finally:
        tls.stop()


@contextlib.contextmanager
def running(tmp_path: Path, nodes: list[dict[str, Any]], engines: list[str] | None = None) -> Iterator[Daemon]:
    """A daemon on `nodes`; after the block it stops and the containers on `engines` (unix URLs) go."""
    d = Daemon(tmp_path, [], extra={"nodes": nodes, "policy": {"allowed_host_paths": []}})
    d.start(timeout=90)
    try:
        yield d
    finally:
        d.stop()
        for url in engines or [n["url"] for n in nodes]:
            with contextlib.suppress(Exception), dockernodes.client(url) as c:
                for ctr in c.containers.list(all=True, filters={"label": "miniorch.io/managed=true"}):
                    ctr.remove(force=True)


def test_env_and_files_from_both_kinds_on_a_local_and_a_tls_node(
    docker_nodes: list[dockernodes.DockerNode], tls_node: Any, tmp_path: Path
) -> None:
    """The same pod on a unix and a TLS node: env from both kinds, files with items, subPath and modes."""
    local = {"name": "local", "url": docker_nodes[0].url}
    with running(tmp_path, [local, tls_node.node_config("edge-tls")], [local["url"], tls_node.node.url]) as d:
        d.apply(manifests())
        d.apply(reader_job("on-local", "local") + "---\n" + reader_job("on-tls", "edge-tls"))
        for job in ("on-local", "on-tls"):
            d.wait_job(job, timeout=90)
            out = logs(d, job)
            assert f"pw={VALUE} mode=nightly nope=unset" in out
            assert f"file={VALUE}" in out and f"q={QUERY}" in out
            assert "modes=440\n400\n555\n" in out  # defaultMode, the item's own mode, the read-only folder
            assert "opt-empty" in out  # an optional volume whose ConfigMap is missing: an empty folder
        pods = d.pods("on-tls")
        assert pods[0]["spec"]["nodeName"] == "edge-tls"


def test_a_missing_key_keeps_the_pod_pending_until_it_appears(
    docker_nodes: list[dockernodes.DockerNode], tmp_path: Path
) -> None:
    """CreateContainerConfigError naming the object and key (status, event), then the pod starts."""
    local = {"name": "local", "url": docker_nodes[0].url}
    with running(tmp_path, [local]) as d:
        d.apply(manifests())
        need = {"env": [{"name": "T", "valueFrom": {"secretKeyRef": {"name": "db", "key": "token"}}}]}
        d.apply(job_yaml("waits", 'echo "token=$T"', container=need))

        def waiting() -> dict[str, Any] | None:
            pods = d.pods("waits")
            return pods[0] if pods and pods[0]["status"].get("reason") == "CreateContainerConfigError" else None

        pod = d.wait_for(waiting, what="CreateContainerConfigError")
        assert pod["status"]["message"] == "couldn't find key token in Secret default/db"
        assert pod["status"]["phase"] == "Pending"
        assert "CreateContainerConfigError" in d.ctl("get", "pods").stdout
        events = d.ctl("get", "events").stdout
        assert "Error: couldn't find key token in Secret default/db" in events
        time.sleep(2.5)  # retried, still waiting: no attempt is counted as a failure
        assert d.job("waits")["status"].get("failed", 0) == 0  # type: ignore[index]
        d.apply(
            yaml.safe_dump(
                {
                    "apiVersion": "v1",
                    "kind": "Secret",
                    "metadata": {"name": "db"},
                    "stringData": {"password": VALUE, "token": "tok-1"},
                }
            )
        )
        d.wait_job("waits", timeout=30)
        assert "token=tok-1" in logs(d, "waits")


def test_an_update_leaves_running_pods_alone_and_new_pods_see_it(
    docker_nodes: list[dockernodes.DockerNode], tmp_path: Path
) -> None:
    """A running pod keeps the data it started with (no restart); a pod started after sees the new data."""
    local = {"name": "local", "url": docker_nodes[0].url}
    with running(tmp_path, [local]) as d:
        d.apply(manifests(mode="v1"))
        script = 'echo "start=$CFG_mode/$(cat /etc/etl/mode)"; sleep 4; echo "end=$CFG_mode/$(cat /etc/etl/mode)"'
        d.apply(reader_job("long", "local", script))
        d.wait_for(lambda: "start=v1/v1" in d.ctl("logs", "job/long").stdout, timeout=30, what="long started")
        d.apply(manifests(mode="v2"))
        d.apply(reader_job("later", "local", 'echo "now=$CFG_mode/$(cat /etc/etl/mode)"'))
        d.wait_job("later", timeout=30)
        assert "now=v2/v2" in logs(d, "later")
        d.wait_job("long", timeout=30)
        assert "end=v1/v1" in logs(d, "long")
        assert d.pods("long")[0]["status"]["containerStatuses"][0]["restartCount"] == 0


def test_a_secret_value_shows_nowhere_but_in_the_container(
    docker_nodes: list[dockernodes.DockerNode], tmp_path: Path
) -> None:
    """Log, events, describe, get events, labels, /metrics, a failed apply and the SQLite file: no plaintext,
    no base64 of it in the database; `get secret -o yaml` shows base64 data as kubectl does."""
    local = {"name": "local", "url": docker_nodes[0].url}
    encoded = base64.b64encode(VALUE.encode()).decode()
    with running(tmp_path, [local]) as d:
        d.apply(manifests())
        # The container's own output is the user's business (it is kept as its log): this one prints no value.
        check = '[ "$PW" = "$(cat /run/db/creds/pw)" ] && echo same-value; sleep 2'
        d.apply(reader_job("uses", "local", check))
        d.wait_for(lambda: d.pods("uses") and d.pods("uses")[0]["status"]["phase"] == "Running", what="running")
        with dockernodes.client(local["url"]) as c:
            ctr = c.containers.get(d.pods("uses")[0]["metadata"]["name"])
            labels = str(ctr.labels)
            inside = ctr.exec_run(["cat", "/run/db/creds/pw"]).output.decode()
        assert inside == VALUE and VALUE not in labels
        d.wait_job("uses", timeout=30)
        assert "same-value" in logs(d, "uses")
        bad = yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Secret",
                "metadata": {"name": "bad"},
                "data": {"pw": VALUE},
                "stringData": {"n": 12},
                "type": "Opaque",
            }
        )
        failed = d.ctl("apply", "-f", "-", input=bad)
        assert failed.returncode == 1 and "stringData.n" in failed.stderr
        bad2 = yaml.safe_dump(
            {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "bad"}, "data": {"pw": VALUE}}
        )
        failed2 = d.ctl("apply", "-f", "-", input=bad2)
        assert failed2.returncode == 1 and "data.pw: Invalid value: illegal base64 data" in failed2.stderr
        shown = [
            d.log_text(),
            d.ctl("get", "events").stdout,
            d.ctl("describe", "secret", "db").stdout,
            d.ctl("describe", "pod", d.pods("uses")[0]["metadata"]["name"]).stdout,
            d.ctl("describe", "job", "uses").stdout,
            d.ctl("get", "secrets").stdout,
            d.api("GET", "/metrics"),
            failed.stdout + failed.stderr + failed2.stdout + failed2.stderr,
        ]
        for text in shown:
            assert VALUE not in text and encoded not in text
        assert "password:  19 bytes" in shown[2]
        as_yaml = yaml.safe_load(d.ctl("get", "secret", "db", "-o", "yaml", check=True).stdout)
        assert as_yaml["data"] == {"password": encoded} and as_yaml["type"] == "Opaque"
        state = tmp_path / "state"
        for db_file in state.glob("miniorch.db*"):
            raw = db_file.read_bytes()
            assert VALUE.encode() not in raw and encoded.encode() not in raw, db_file


def _daemon_exit(d: Daemon) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [MINIORCH, "daemon", "--config", str(d.config_path)], capture_output=True, text=True, timeout=60
    )


def test_the_key_file_is_private_and_a_wrong_key_is_refused(
    docker_nodes: list[dockernodes.DockerNode], tmp_path: Path
) -> None:
    """Made 0600 at first start; a group-readable one and a key that does not open the database: exit 2, one line."""
    d = Daemon(tmp_path, [("local", docker_nodes[0].url)])
    d.start(timeout=90)
    d.apply(manifests())
    assert d.stop() == 0
    key = tmp_path / "state" / "secret.key"
    assert os.stat(key).st_mode & 0o777 == 0o600
    key.chmod(0o640)
    loose = _daemon_exit(d)
    assert loose.returncode == 2
    assert (
        f"secrets.key_file {key} is readable by group or others (mode 0640); fix it with 'chmod 600 {key}'"
        in loose.stderr
    )
    key.chmod(0o600)
    original = key.read_bytes()
    key.write_bytes(base64.urlsafe_b64encode(os.urandom(32)) + b"\n")
    wrong = _daemon_exit(d)
    assert (
        wrong.returncode == 2
        and f"the key in secrets.key_file {key} does not open this database's secrets" in wrong.stderr
    )
    key.write_bytes(original)
    d.start(timeout=90)
    assert yaml.safe_load(d.ctl("get", "secret", "db", "-o", "yaml", check=True).stdout)["data"]["password"]
    d.stop()


def test_ctl_create_secret_and_configmap(docker_nodes: list[dockernodes.DockerNode], tmp_path: Path) -> None:
    """kubectl's generators: literals, files (key=path), env files; an existing name is AlreadyExists."""
    (tmp_path / "q.sql").write_text(QUERY)
    (tmp_path / "db.env").write_text("# comment\nuser=etl\nhost=db.local\n")
    with running(tmp_path, [{"name": "local", "url": docker_nodes[0].url}]) as d:
        out = d.ctl(
            "create",
            "secret",
            "generic",
            "db",
            f"--from-literal=password={VALUE}",
            f"--from-env-file={tmp_path / 'db.env'}",
            check=True,
        ).stdout
        assert out.strip() == "secret/db created"
        made = yaml.safe_load(d.ctl("get", "secret", "db", "-o", "yaml", check=True).stdout)
        assert {k: base64.b64decode(v).decode() for k, v in made["data"].items()} == {
            "password": VALUE,
            "user": "etl",
            "host": "db.local",
        }
        d.ctl(
            "create", "configmap", "etl", f"--from-file=query={tmp_path / 'q.sql'}", "--from-literal=mode=x", check=True
        )
        assert yaml.safe_load(d.ctl("get", "cm", "etl", "-o", "yaml", check=True).stdout)["data"] == {
            "mode": "x",
            "query": QUERY,
        }
        again = d.ctl("create", "configmap", "etl", "--from-literal=a=b")
        assert again.returncode == 1 and 'configmaps "etl" already exists' in again.stderr
        table = d.ctl("get", "secrets").stdout.splitlines()
        assert table[0].split() == ["NAME", "TYPE", "DATA", "AGE"] and table[1].split()[:3] == ["db", "Opaque", "3"]
        assert d.ctl("delete", "secret", "db", check=True).returncode == 0
        assert d.ctl("get", "secret", "db").returncode == 1


def test_a_daemonset_waits_for_its_secret_then_runs_with_it(
    docker_nodes: list[dockernodes.DockerNode], tmp_path: Path
) -> None:
    """DaemonSet pods read Secrets too: Pending with CreateContainerConfigError until it exists, then Running."""
    local = {"name": "local", "url": docker_nodes[0].url}
    ds = {
        "apiVersion": "apps/v1",
        "kind": "DaemonSet",
        "metadata": {"name": "agent"},
        "spec": {
            "selector": {"matchLabels": {"app": "agent"}},
            "template": {
                "metadata": {"labels": {"app": "agent"}},
                "spec": {
                    "terminationGracePeriodSeconds": 1,
                    "volumes": [{"name": "s", "secret": {"secretName": "agent-token"}}],
                    "containers": [
                        {
                            "name": "a",
                            "image": dockernodes.TEST_IMAGE,
                            "command": ["sh", "-c", 'echo "token $(wc -c < /run/s/token) bytes"; sleep 3600'],
                            "volumeMounts": [{"name": "s", "mountPath": "/run/s"}],
                        }
                    ],
                },
            },
        },
    }
    with running(tmp_path, [local]) as d:
        d.apply(yaml.safe_dump(ds))

        def pod(reason: str | None = None, phase: str | None = None) -> dict[str, Any] | None:
            items = d.api("GET", "/api/v1/pods", params={"labelSelector": "app=agent"})["items"]
            for p in items:
                if (reason is None or p["status"].get("reason") == reason) and (
                    phase is None or p["status"]["phase"] == phase
                ):
                    return dict(p)
            return None

        waiting = d.wait_for(lambda: pod(reason="CreateContainerConfigError"), what="the agent waiting")
        assert (
            waiting["status"]["message"] == 'MountVolume.SetUp failed for volume "s" : secret "agent-token" not found'
        )
        d.apply(yaml.safe_dump(secret_doc("agent-token", {"token": "t" * 12})))
        running_pod = d.wait_for(lambda: pod(phase="Running"), timeout=40, what="the agent running")
        d.wait_for(lambda: "token 12 bytes" in d.ctl("logs", running_pod["metadata"]["name"]).stdout, what="its line")


def secret_doc(name: str, values: dict[str, str]) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name}, "stringData": values}
