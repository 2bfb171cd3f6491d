"""Remote nodes over real transports: a dockerd with --tlsverify on 127.0.0.1 and an OpenSSH server
whose sessions reach a test node, both started here. Workloads, image copies and adoption over TLS and
SSH; every trust failure makes only its node NotReady, with a message saying which; no environment
variable changes which engine is trusted."""

from __future__ import annotations

import contextlib
import signal
import subprocess
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, cast

import docker
import pytest
import yaml
from support import dockernodes, sshd, tlsdocker
from support.daemon import MINIORCH, Daemon, job_yaml

from miniorch.nodes import transport

IMAGE = dockernodes.TEST_IMAGE


class Fleet:
    """node0 on its unix socket, the TLS engine, and node2 behind sshd."""

    def __init__(self, nodes: list[dockernodes.DockerNode], tls: tlsdocker.TlsNode, ssh: sshd.SshServer) -> None:
        self.unix = next(n for n in nodes if n.name == "node0")
        self.ssh_engine = next(n for n in nodes if n.name == "node2")
        self.tls = tls
        self.ssh = ssh
        self.pki = tls.pki

    def entries(self) -> list[dict[str, Any]]:
        return [
            {"name": "local", "url": self.unix.url},
            self.tls.node_config("edge-tls"),
            self.ssh.node_config("edge-ssh"),
        ]

    def engines(self) -> list[dockernodes.DockerNode]:
        return [self.unix, self.tls.node, self.ssh_engine]


@pytest.fixture(scope="module")
def fleet(docker_nodes: list[dockernodes.DockerNode], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fleet]:
    """The TLS engine and the SSH server, up for this module's tests and stopped after them."""
    base = docker_nodes[0].base_dir
    pki = tlsdocker.make_pki(tmp_path_factory.mktemp("pki"))
    tls = tlsdocker.TlsNode(base, pki)
    node2 = next(n for n in docker_nodes if n.name == "node2")
    ssh = sshd.SshServer(tmp_path_factory.mktemp("sshd"), node2.socket)
    try:
        tls.start()
        ssh.start()
        yield Fleet(docker_nodes, tls, ssh)
    finally:
        ssh.stop()
        tls.stop()


def _clean(engines: list[dockernodes.DockerNode]) -> None:
    for node in engines:
        if not node.is_running():
            continue
        with dockernodes.client(node.url) as c:
            for ctr in c.containers.list(all=True, filters={"label": "miniorch.io/managed=true"}, ignore_removed=True):
                with contextlib.suppress(docker.errors.NotFound):
                    ctr.remove(force=True)


@contextlib.contextmanager
def running(
    workdir: Path, fleet: Fleet, entries: list[dict[str, Any]], env: dict[str, str] | None = None
) -> Iterator[Daemon]:
    """A daemon on `entries`, stopped and its containers removed after the block."""
    d = Daemon(workdir, [], extra={"nodes": entries})
    d.start(env=env)
    try:
        yield d
    finally:
        if d.proc is not None and d.proc.poll() is None:
            d.stop()
        _clean(fleet.engines())


def nodes(d: Daemon) -> dict[str, dict[str, Any]]:
    return {n["metadata"]["name"]: n for n in d.api("GET", "/api/v1/nodes")["items"]}


def ready(node: dict[str, Any]) -> bool:
    return any(c["type"] == "Ready" and c["status"] == "True" for c in node["status"]["conditions"])


def message(node: dict[str, Any]) -> str:
    return str(node["status"]["conditions"][0]["message"])


def wait_ready(d: Daemon, names: list[str], timeout: float = 30) -> dict[str, dict[str, Any]]:
    def check() -> dict[str, dict[str, Any]] | None:
        seen = nodes(d)
        return (
            seen
            if all(n in seen and ready(seen[n]) and "roundTripMilliseconds" in seen[n]["status"] for n in names)
            else None
        )

    result: dict[str, dict[str, Any]] = d.wait_for(check, timeout=timeout, what=f"nodes {names} Ready with an RTT")
    return result


def wait_not_ready(d: Daemon, name: str, words: str, timeout: float = 30) -> str:
    """Wait until `name` is NotReady with `words` in its message; return the message."""

    def check() -> str | None:
        node = nodes(d).get(name)
        return message(node) if node and not ready(node) and words in message(node) else None

    result: str = d.wait_for(check, timeout=timeout, what=f"{name} NotReady with {words!r}")
    return result


def pinned(name: str, node: str, command: str = "echo ran-$(hostname)", **kw: Any) -> str:
    return job_yaml(name, command, pod_spec={"nodeSelector": {"kubernetes.io/hostname": node}}, **kw)


def containers_on(engine: dockernodes.DockerNode, label: str) -> list[Any]:
    with dockernodes.client(engine.url) as c:
        return list(c.containers.list(all=True, filters={"label": label}, ignore_removed=True))


def test_tls_and_ssh_nodes_added_by_reload_run_jobs_cronjobs_and_daemonsets(fleet: Fleet, tmp_path: Path) -> None:
    """SIGHUP adds a TLS and an SSH node: Ready in `get nodes -o wide` with transport and RTT, and a Job,
    a CronJob and a DaemonSet run on them (their containers are on those engines), over a few reused
    SSH connections."""
    logins_before = fleet.ssh.log.read_text().count("Accepted publickey")
    with running(tmp_path, fleet, fleet.entries()[:1]) as d:
        wait_ready(d, ["local"])
        config = yaml.safe_load(d.config_path.read_text())
        config["nodes"] = fleet.entries()
        d.config_path.write_text(yaml.safe_dump(config))
        assert d.proc is not None
        d.proc.send_signal(signal.SIGHUP)
        wait_ready(d, ["local", "edge-tls", "edge-ssh"])
        wide = d.ctl("get", "nodes", "-o", "wide", check=True).stdout.splitlines()
        rows = {line.split()[0]: line.split() for line in wide[1:]}
        header = wide[0].split()
        t, r = header.index("TRANSPORT"), header.index("RTT")
        assert {n: (rows[n][1], rows[n][t]) for n in rows} == {
            "local": ("Ready", "unix"),
            "edge-tls": ("Ready", "tls"),
            "edge-ssh": ("Ready", "ssh"),
        }
        assert all(rows[n][r].endswith("ms") and float(rows[n][r][:-2]) > 0 for n in rows)

        for node in ("edge-tls", "edge-ssh"):
            d.apply(pinned(f"job-{node}", node, completions=2, parallelism=2), name=f"{node}.yaml")
        for node in ("edge-tls", "edge-ssh"):
            job = d.wait_job(f"job-{node}", timeout=60)
            assert job["status"]["succeeded"] == 2
            assert {p["spec"]["nodeName"] for p in d.pods(f"job-{node}")} == {node}
            assert d.ctl("logs", f"job/job-{node}").stdout.count("ran-job-") >= 1

        d.apply(_cronjob("tick", "edge-ssh"), name="cron.yaml")
        d.wait_for(lambda: _cron_succeeded(d, "tick"), timeout=30, what="a CronJob run on edge-ssh")
        d.apply(_daemonset("agent"), name="ds.yaml")

        def agents_running() -> bool:
            pods = d.api("GET", "/api/v1/pods", params={"labelSelector": "app=agent"})["items"]
            running = {p["spec"]["nodeName"] for p in pods if p["status"]["phase"] == "Running"}
            return running == {"local", "edge-tls", "edge-ssh"}

        d.wait_for(agents_running, timeout=40, what="one agent Running on each node")
        assert len([c for c in containers_on(fleet.tls.node, "app=agent") if c.status == "running"]) == 1
        assert len([c for c in containers_on(fleet.ssh_engine, "app=agent") if c.status == "running"]) == 1
        # Dozens of Docker calls and the event stream went to edge-ssh over one SSH connection.
        logins = fleet.ssh.log.read_text().count("Accepted publickey") - logins_before
        assert logins == 1, logins


def test_more_calls_at_once_than_sshd_allows_sessions_wait_for_a_channel_and_all_succeed(fleet: Fleet) -> None:
    """sshd (MaxSessions 10, its default here) refuses an 11th channel on one connection: 14 calls
    that each hold a channel (`wait` on a container still running) all return, over one login."""
    cfg = fleet.ssh.node_config("edge-ssh")
    files = cast(dict[str, str], cfg["ssh"])
    endpoint = transport.Endpoint(str(cfg["url"]), transport.SSH, **files)
    logins_before = fleet.ssh.log.read_text().count("Accepted publickey")
    with dockernodes.client(fleet.ssh_engine.url) as local:
        sleeper = local.containers.run(IMAGE, ["sleep", "3"], detach=True, labels={"miniorch.io/managed": "true"})
    client = transport.connect(endpoint, timeout=30, pool_size=32)
    try:
        with ThreadPoolExecutor(14) as pool:
            codes = list(pool.map(lambda _: client.api.wait(sleeper.id)["StatusCode"], range(14)))
    finally:
        client.close()
        with dockernodes.client(fleet.ssh_engine.url) as local:
            local.containers.get(sleeper.id).remove(force=True)
    assert codes == [0] * 14
    assert fleet.ssh.log.read_text().count("Accepted publickey") - logins_before == 1


def _cronjob(name: str, node: str) -> str:
    template = {
        "spec": {
            "restartPolicy": "Never",
            "nodeSelector": {"kubernetes.io/hostname": node},
            "containers": [{"name": "c", "image": IMAGE, "command": ["true"]}],
        }
    }
    body = {"schedule": "*/2 * * * * *", "jobTemplate": {"spec": {"backoffLimit": 0, "template": template}}}
    return yaml.safe_dump({"apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": name}, "spec": body})


def _cron_succeeded(d: Daemon, name: str) -> bool:
    jobs = d.api("GET", "/apis/batch/v1/jobs")["items"]
    mine = [j for j in jobs if any(r["name"] == name for r in j["metadata"].get("ownerReferences", []))]
    return any(bool(j["status"].get("succeeded") == 1) for j in mine)


def _daemonset(name: str) -> str:
    container = {"name": "agent", "image": IMAGE, "imagePullPolicy": "Never", "command": ["sleep", "600"]}
    template = {
        "metadata": {"labels": {"app": name}},
        "spec": {"terminationGracePeriodSeconds": 1, "containers": [container]},
    }
    body = {"selector": {"matchLabels": {"app": name}}, "template": template}
    return yaml.safe_dump({"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": name}, "spec": body})


def _rmi(engine: dockernodes.DockerNode, image: str) -> None:
    subprocess.run(["docker", "-H", engine.url, "rmi", "-f", image], capture_output=True, check=False)


def _has(engine: dockernodes.DockerNode, image: str) -> bool:
    return bool(dockernodes.image_exists(engine.url, image))


def test_an_image_is_copied_unix_to_tls_then_tls_to_ssh(fleet: Fleet, tmp_path: Path) -> None:
    """With no registry, an image only on the unix node is streamed to the TLS node for a Job there; then,
    gone from the unix node, streamed from the TLS node to the SSH node (one copy for two waiting pods)."""
    image = f"miniorch.local/copied-{int(time.time())}:1"
    with dockernodes.client(fleet.unix.url) as c:
        c.images.get(IMAGE).tag(image)
    try:
        with running(tmp_path, fleet, fleet.entries()) as d:
            wait_ready(d, ["local", "edge-tls", "edge-ssh"])
            pull = {"imagePullPolicy": "IfNotPresent"}
            d.apply(
                pinned("to-tls", "edge-tls", image=image, completions=2, parallelism=2, container=pull), name="a.yaml"
            )
            job = d.wait_job("to-tls", timeout=90)
            assert _has(fleet.tls.node, image)
            _rmi(fleet.unix, image)
            d.apply(
                pinned("to-ssh", "edge-ssh", image=image, completions=2, parallelism=2, container=pull), name="b.yaml"
            )
            job2 = d.wait_job("to-ssh", timeout=90)
            assert _has(fleet.ssh_engine, image)
            copies = []
            for j in (job, job2):
                events = d.events(j["metadata"]["uid"])
                copies += [e["message"] for e in events if e["reason"] == "ImageCopied"]
            assert len(copies) == 2, copies
            assert "from node local to node edge-tls" in copies[0]
            assert "from node edge-tls to node edge-ssh" in copies[1]
    finally:
        for engine in fleet.engines():
            _rmi(engine, image)


def test_pods_on_tls_and_ssh_nodes_are_adopted_after_a_daemon_restart(fleet: Fleet, tmp_path: Path) -> None:
    """SIGTERM leaves the pods running on the TLS and SSH engines; the next daemon adopts them over those
    transports: no second pod, the Jobs complete with one success each."""
    with running(tmp_path, fleet, fleet.entries()) as d:
        wait_ready(d, ["edge-tls", "edge-ssh"])
        for node in ("edge-tls", "edge-ssh"):
            d.apply(pinned(f"long-{node}", node, command="sleep 15; echo done"), name=f"{node}.yaml")
        d.wait_for(
            lambda: all(
                [p["status"]["phase"] for p in d.pods(f"long-{n}")] == ["Running"] for n in ("edge-tls", "edge-ssh")
            ),
            timeout=30,
            what="both pods Running",
        )
        assert d.stop() == 0
        assert [c.status for c in containers_on(fleet.tls.node, "job-name=long-edge-tls")] == ["running"]
        assert [c.status for c in containers_on(fleet.ssh_engine, "job-name=long-edge-ssh")] == ["running"]
        d.start()
        for node in ("edge-tls", "edge-ssh"):
            job = d.wait_job(f"long-{node}", timeout=60)
            assert job["status"]["succeeded"] == 1 and job["status"].get("failed", 0) == 0
            assert len(d.pods(f"long-{node}")) == 1
            assert d.ctl("logs", f"job/long-{node}").stdout.strip() == "done"


def _daemon_exit(tmp_path: Path, entry: dict[str, Any]) -> subprocess.CompletedProcess[str]:
    path = tmp_path / "bad.yaml"
    config = {"state_dir": str(tmp_path / "state"), "api": {"socket": str(tmp_path / "s.sock")}, "nodes": [entry]}
    path.write_text(yaml.safe_dump(config))
    return subprocess.run([MINIORCH, "daemon", "--config", str(path)], capture_output=True, text=True, timeout=30)


def _bad_entries(fleet: Fleet, tmp_path: Path) -> list[tuple[dict[str, Any], str]]:
    leaky = tmp_path / "leaky_key"
    leaky.write_bytes(fleet.ssh.identity.read_bytes())
    leaky.chmod(0o644)
    good_tls = fleet.tls.node_config("edge")["tls"]
    return [
        ({"name": "edge", "url": fleet.tls.url}, "the tls block is missing"),
        (
            {"name": "edge", "url": fleet.tls.url, "tls": {k: v for k, v in good_tls.items() if k != "ca"}},
            "tls.ca is missing",
        ),
        (
            {"name": "edge", "url": fleet.tls.url, "tls": {**good_tls, "cert": "/nonexistent.pem"}},
            "tls.cert /nonexistent.pem does not exist",
        ),
        (fleet.ssh.node_config("edge", identity_file=str(leaky)), f"chmod 600 {leaky}"),
    ]


def test_bad_remote_node_configs_stop_the_daemon_with_exit_2_and_one_line(fleet: Fleet, tmp_path: Path) -> None:
    """Each untrusted node entry: `miniorch daemon` exits 2 at once with one line naming the node, key and fix
    (the whole table of cases is tests/unit/test_node_config.py)."""
    for entry, words in _bad_entries(fleet, tmp_path):
        result = _daemon_exit(tmp_path, entry)
        lines = [line for line in result.stderr.splitlines() if line.strip()]
        assert result.returncode == 2, (entry, result.stderr)
        assert len(lines) == 1 and words in lines[0] and "node 'edge'" in lines[0], (entry, result.stderr)


def test_insecure_tcp_is_logged_at_every_start_and_marked_in_the_wide_table(fleet: Fleet, tmp_path: Path) -> None:
    """insecure: true is the one way to plain TCP: node_insecure is logged at each start, ctl shows INSECURE."""
    entry = {"name": "lab", "url": "tcp://127.0.0.1:9", "insecure": True}
    with running(tmp_path, fleet, [{"name": "local", "url": fleet.unix.url}, entry]) as d:
        wait_ready(d, ["local"])
        d.stop()
        d.start()
        assert len([e for e in d.log_events() if e.get("event") == "node_insecure" and e.get("node") == "lab"]) == 2
        rows = {line.split()[0]: line for line in d.ctl("get", "nodes", "-o", "wide", check=True).stdout.splitlines()}
        assert "NotReady,INSECURE" in rows["lab"] and "tcp-insecure" in rows["lab"]


def _trust_entries(fleet: Fleet, tmp_path: Path) -> list[dict[str, Any]]:
    empty = tmp_path / "empty_known_hosts"
    empty.write_text("")
    localhost = f"tcp://localhost:{fleet.tls.port}"
    return [
        {"name": "local", "url": fleet.unix.url},
        fleet.tls.node_config("good-tls"),
        fleet.tls.node_config("named-tls", url=localhost, server_name="engine.test"),
        fleet.ssh.node_config("good-ssh"),
        fleet.tls.node_config("wrong-ca", ca=str(fleet.pki.other_ca)),
        fleet.tls.node_config("wrong-name", url=localhost),
        fleet.tls.node_config("wrong-server-name", server_name="other.test"),
        fleet.tls.node_config("foreign-client", cert=str(fleet.pki.foreign_cert), key=str(fleet.pki.foreign_key)),
        fleet.ssh.node_config("unknown-key", known_hosts=str(empty)),
        fleet.ssh.node_config("refused", identity_file=str(fleet.ssh.stranger)),
    ]


TRUST_FAILURES = {
    "wrong-ca": "certificate is not signed by tls.ca",
    "wrong-name": "not valid for 'localhost'",
    "wrong-server-name": "not valid for 'other.test', tls.server_name",
    "foreign-client": "refused our client certificate",
    "unknown-key": "is unknown: ssh-ed25519 SHA256:",
    "refused": "login as 'root' on 127.0.0.1",
}
GOOD = ["local", "good-tls", "named-tls", "good-ssh"]

# What other programs take from the environment; none of it may change which engine is trusted.
HOSTILE_ENV = {
    "SSL_CERT_FILE": "",  # set per test to the CA the engine does NOT chain to
    "SSL_CERT_DIR": "/nonexistent",
    "HTTPS_PROXY": "http://127.0.0.1:9",
    "https_proxy": "http://127.0.0.1:9",
    "ALL_PROXY": "http://127.0.0.1:9",
}


@pytest.mark.parametrize("bundle", ["other_ca", "ca"])
def test_each_trust_failure_makes_only_its_node_not_ready_whatever_the_ca_bundle_variables_say(
    fleet: Fleet, tmp_path: Path, bundle: str
) -> None:
    """Wrong CA, a certificate for another name, a wrong server_name, a client certificate the engine does not
    trust, an unknown host key and a refused login:
    each such node is NotReady saying which, while the good TLS, SSH and unix nodes are Ready. With
    REQUESTS_CA_BUNDLE/CURL_CA_BUNDLE naming a wrong CA the right one is still accepted; naming the engine's
    CA they still do not make the wrong tls.ca accepted; an SSH agent holding the authorized key is not asked."""
    path = str(getattr(fleet.pki, bundle))
    # An SSH agent that holds the authorized key: were it asked, the "refused" node would log in.
    agent = sshd.Agent(tmp_path, fleet.ssh.identity)
    env = {**HOSTILE_ENV, "SSL_CERT_FILE": path, "REQUESTS_CA_BUNDLE": path, "CURL_CA_BUNDLE": path}
    env["SSH_AUTH_SOCK"] = str(agent.socket)
    with contextlib.ExitStack() as stack:
        stack.callback(agent.stop)
        d = stack.enter_context(running(tmp_path, fleet, _trust_entries(fleet, tmp_path), env=env))
        wait_ready(d, GOOD)
        for name, words in TRUST_FAILURES.items():
            wait_not_ready(d, name, words)
        seen = nodes(d)
        assert all(ready(seen[n]) for n in GOOD)
        wide = {line.split()[0]: line for line in d.ctl("get", "nodes", "-o", "wide", check=True).stdout.splitlines()}
        assert "ago: node 'refused': " in wide["refused"] and "refused with ssh.identity_file" in wide["refused"]
        events = d.api("GET", "/api/v1/events")["items"]
        assert not [e for e in events if e["reason"] == "NodeNotReady" and e["involvedObject"]["name"] in GOOD]


def test_expired_certificate_and_changed_host_key_turn_the_node_not_ready_and_back(
    fleet: Fleet, tmp_path: Path
) -> None:
    """The TLS engine serving an expired certificate and the SSH host offering a new host key: each node
    NotReady with a message saying so, the unix node unaffected; with the right certificate and key back,
    both are Ready again."""
    with running(tmp_path, fleet, fleet.entries()) as d:
        wait_ready(d, ["local", "edge-tls", "edge-ssh"])
        try:
            fleet.tls.restart(fleet.pki.expired_cert, fleet.pki.expired_key)
            fleet.ssh.restart(fleet.ssh.other_host_key)
            expired = wait_not_ready(d, "edge-tls", "certificate has expired")
            changed = wait_not_ready(d, "edge-ssh", "has CHANGED")
            assert "renew the certificate" in expired
            assert str(fleet.ssh.known_hosts) in changed and "intercepting" in changed
            assert ready(nodes(d)["local"])
        finally:
            fleet.tls.restart()
            fleet.ssh.restart()
        wait_ready(d, ["local", "edge-tls", "edge-ssh"])
        d.apply(pinned("after", "edge-ssh"), name="after.yaml")
        d.wait_job("after", timeout=60)


def test_a_host_whose_docker_cannot_be_reached_over_ssh_says_dial_stdio_failed(fleet: Fleet, tmp_path: Path) -> None:
    """The SSH login works but the host's Docker does not answer `docker system dial-stdio` (here: no socket):
    the node is NotReady with the host's own error and what to check, not a bare "connection aborted"."""
    broken = sshd.SshServer(tmp_path / "sshd", Path("/nonexistent/docker.sock"))
    broken.start()
    try:
        with running(
            tmp_path / "d", fleet, [{"name": "local", "url": fleet.unix.url}, broken.node_config("nodocker")]
        ) as d:
            wait_ready(d, ["local"])
            text = wait_not_ready(d, "nodocker", "'docker system dial-stdio' failed on 127.0.0.1 as 'root'")
            assert "/nonexistent/docker.sock" in text and "docker group" in text
    finally:
        broken.stop()
