#!/usr/bin/env python3
"""Run several local Docker Engines side by side as miniorch test nodes.

Each node is its own `dockerd` (own data-root, exec-root, unix socket, pidfile
and Linux bridge) under `<base_dir>/<name>/`. Importable by the test suite and
runnable as a script (`start`, `stop`, `status`, `stop-node`, `start-node`,
`kill-node`, `build-image`). Uses only the standard library: the Docker API is
spoken over the unix socket directly, so it also runs under a bare `python3`.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import contextlib
import dataclasses
import hashlib
import http.client
import io
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tarfile
import time
import urllib.parse
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

DEFAULT_BASE_DIR = Path("/tmp/miniorch-nodes")
ENV_BASE_DIR = "MINIORCH_NODES_DIR"
ENV_NODES = "MINIORCH_TEST_NODES"
TEST_IMAGE = "miniorch.local/busybox:latest"
BUSYBOX = Path("/bin/busybox")
NODES_ENV_FILE = "nodes.env"

# Processes that belong to a node are found by their command line mentioning the
# node directory; only these executables are ever signalled (plus the container
# processes below the shims).
_NODE_EXECUTABLES = {
    "dockerd",
    "containerd",
    "containerd-shim",
    "containerd-shim-runc-v1",
    "containerd-shim-runc-v2",
    "docker-proxy",
    "runc",
}


class NodeError(RuntimeError):
    """A test node could not be started, stopped or used."""


def default_base_dir() -> Path:
    return Path(os.environ.get(ENV_BASE_DIR) or DEFAULT_BASE_DIR)


# --------------------------------------------------------------------------- #
# Minimal Docker Engine API client (stdlib only)
# --------------------------------------------------------------------------- #


class _UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path: str, timeout: float) -> None:
        super().__init__("localhost", timeout=timeout)
        self._unix_path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        try:
            sock.connect(self._unix_path)
        except OSError:
            sock.close()
            raise
        self.sock = sock


def _connection(url: str, timeout: float) -> http.client.HTTPConnection:
    parsed = urllib.parse.urlparse(url)
    if parsed.scheme == "unix":
        return _UnixHTTPConnection(parsed.path, timeout)
    if parsed.scheme in ("tcp", "http"):
        return http.client.HTTPConnection(parsed.hostname or "localhost", parsed.port or 2375, timeout=timeout)
    raise NodeError(f"unsupported Docker URL {url!r}; use unix:///path or tcp://host:port")


def api_request(
    url: str,
    method: str,
    path: str,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
    timeout: float = 10.0,
) -> tuple[int, bytes]:
    """Send one request to the Docker Engine at `url`; return (status, body)."""
    conn = _connection(url, timeout)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        resp = conn.getresponse()
        return resp.status, resp.read()
    except (OSError, http.client.HTTPException) as exc:
        raise NodeError(f"cannot reach the Docker Engine at {url} ({exc}); is dockerd running?") from exc
    finally:
        conn.close()


def ping(url: str, timeout: float = 2.0) -> bool:
    """True when the engine at `url` answers `GET /_ping` with OK."""
    try:
        status, body = api_request(url, "GET", "/_ping", timeout=timeout)
    except NodeError:
        return False
    return status == 200 and body.strip() == b"OK"


def image_exists(url: str, tag: str = TEST_IMAGE, timeout: float = 10.0) -> bool:
    status, body = api_request(url, "GET", f"/images/{urllib.parse.quote(tag, safe='')}/json", timeout=timeout)
    if status not in (200, 404):
        raise NodeError(f"{url}: inspecting image {tag} failed: HTTP {status} {body[:200]!r}")
    return status == 200


@contextlib.contextmanager
def client(url: str, timeout: float = 30.0) -> Iterator[Any]:
    """A docker SDK `DockerClient` for `url`, closed on exit (needs the `docker` package)."""
    import docker  # lazy: the script itself must run without the SDK

    c = docker.DockerClient(base_url=url, timeout=int(timeout))
    try:
        yield c
    finally:
        c.close()


# --------------------------------------------------------------------------- #
# Test image
# --------------------------------------------------------------------------- #

_PASSWD = b"root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n"
_GROUP = b"root:x:0:\nnogroup:x:65534:\n"


def _busybox_applets() -> list[str]:
    if not BUSYBOX.exists():
        raise NodeError(f"{BUSYBOX} not found; install it with 'apt-get install -y busybox-static'")
    out = subprocess.run([str(BUSYBOX), "--list"], check=True, capture_output=True, text=True).stdout
    return sorted({a.strip() for a in out.split() if a.strip() and "/" not in a} - {"busybox"})


def rootfs_tarball(cache_dir: Path) -> Path:
    """Build (once, cached by busybox hash) a tiny rootfs tarball around /bin/busybox."""
    data = BUSYBOX.read_bytes()
    digest = hashlib.sha256(data).hexdigest()[:16]
    target = cache_dir / f"busybox-rootfs-{digest}.tar"
    if target.exists():
        return target
    applets = _busybox_applets()
    mtime = int(BUSYBOX.stat().st_mtime)

    def info(name: str, kind: bytes, mode: int, size: int = 0, link: str = "") -> tarfile.TarInfo:
        ti = tarfile.TarInfo(name)
        ti.type, ti.mode, ti.size, ti.linkname, ti.mtime = kind, mode, size, link, mtime
        return ti

    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.GNU_FORMAT) as tar:
        for d, mode in [
            ("bin", 0o755),
            ("etc", 0o755),
            ("root", 0o700),
            ("tmp", 0o1777),
            ("proc", 0o755),
            ("sys", 0o755),
            ("dev", 0o755),
            ("var", 0o755),
            ("usr", 0o755),
        ]:
            tar.addfile(info(d, tarfile.DIRTYPE, mode))
        tar.addfile(info("var/tmp", tarfile.SYMTYPE, 0o777, link="../tmp"))
        tar.addfile(info("usr/bin", tarfile.SYMTYPE, 0o777, link="../bin"))
        tar.addfile(info("usr/sbin", tarfile.SYMTYPE, 0o777, link="../bin"))
        tar.addfile(info("sbin", tarfile.SYMTYPE, 0o777, link="bin"))
        tar.addfile(info("bin/busybox", tarfile.REGTYPE, 0o755, size=len(data)), io.BytesIO(data))
        for applet in applets:
            tar.addfile(info(f"bin/{applet}", tarfile.SYMTYPE, 0o777, link="busybox"))
        for name, content in [("etc/passwd", _PASSWD), ("etc/group", _GROUP)]:
            tar.addfile(info(name, tarfile.REGTYPE, 0o644, size=len(content)), io.BytesIO(content))
    cache_dir.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f"{target.name}.{os.getpid()}.tmp")
    tmp.write_bytes(buf.getvalue())
    tmp.replace(target)  # atomic: nodes may build in parallel
    return target


def build_test_image(url: str, tag: str = TEST_IMAGE, cache_dir: Path | None = None) -> bool:
    """Import the busybox test image into the engine at `url` unless `tag` exists.

    Returns True when it imported the image, False when it was already there.
    """
    if image_exists(url, tag):
        return False
    tarball = rootfs_tarball(cache_dir or default_base_dir())
    repo, version = tag.rsplit(":", 1) if ":" in tag.rsplit("/", 1)[-1] else (tag, "latest")
    query = urllib.parse.urlencode(
        {
            "fromSrc": "-",
            "repo": repo,
            "tag": version,
            "changes": ['CMD ["/bin/sh"]', "ENV PATH=/bin", "WORKDIR /", "LABEL org.miniorch.test-image=busybox"],
        },
        doseq=True,
    )
    status, body = api_request(
        url,
        "POST",
        f"/images/create?{query}",
        body=tarball.read_bytes(),
        headers={"Content-Type": "application/x-tar"},
        timeout=120,
    )
    if status != 200:
        raise NodeError(f"{url}: importing {tag} failed: HTTP {status} {body[:300]!r}")
    for line in body.splitlines():
        msg = json.loads(line) if line.strip() else {}
        if "error" in msg:
            raise NodeError(f"{url}: importing {tag} failed: {msg['error']}")
    if not image_exists(url, tag):
        raise NodeError(f"{url}: image {tag} missing right after import")
    return True


# --------------------------------------------------------------------------- #
# Processes
# --------------------------------------------------------------------------- #


def _pid_alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def _cmdline(pid: int) -> list[str]:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return [a.decode(errors="replace") for a in f.read().split(b"\0") if a]
    except OSError:
        return []


def _children_map() -> dict[int, list[int]]:
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(entry))
    return children


def _wait_gone(pids: Sequence[int], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not any(_pid_alive(p) for p in pids):
            return True
        time.sleep(0.05)
    return not any(_pid_alive(p) for p in pids)


def _signal(pids: Sequence[int], sig: signal.Signals) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)


def _run(cmd: Sequence[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(cmd), capture_output=True, text=True, check=False)


# --------------------------------------------------------------------------- #
# Nodes
# --------------------------------------------------------------------------- #


@dataclasses.dataclass
class DockerNode:
    """One local dockerd living in `<base_dir>/<name>/`; with `tcp_port` it also listens on
    plain TCP at 127.0.0.1:<tcp_port> (for tests that put a network in between)."""

    name: str
    base_dir: Path
    extra_args: tuple[str, ...] = ()  # more dockerd flags, e.g. a TLS listener (tests/support/tlsdocker.py)
    tcp_port: int | None = None

    def __post_init__(self) -> None:
        self.base_dir = Path(self.base_dir)

    # -- layout ------------------------------------------------------------ #
    @property
    def dir(self) -> Path:
        return self.base_dir / self.name

    @property
    def socket(self) -> Path:
        return self.dir / "docker.sock"

    @property
    def url(self) -> str:
        return f"unix://{self.socket}"

    @property
    def tcp_url(self) -> str:
        if self.tcp_port is None:
            raise NodeError(f"node {self.name} was not started with a tcp_port")
        return f"tcp://127.0.0.1:{self.tcp_port}"

    @property
    def pidfile(self) -> Path:
        return self.dir / "dockerd.pid"

    @property
    def logfile(self) -> Path:
        return self.dir / "dockerd.log"

    @property
    def data_root(self) -> Path:
        return self.dir / "data"

    @property
    def exec_root(self) -> Path:
        return self.dir / "exec"

    @property
    def index(self) -> int:
        m = re.search(r"(\d+)$", self.name)
        return int(m.group(1)) % 250 if m else int(hashlib.sha1(self.name.encode()).hexdigest(), 16) % 250

    @property
    def _dir_hash(self) -> str:
        return hashlib.sha1(str(self.base_dir.resolve()).encode()).hexdigest()[:4]

    @property
    def bridge(self) -> str:
        """Linux bridge name (<= 15 chars), unique per base dir and node."""
        return f"mo{self._dir_hash}n{self.index}"

    @property
    def bridge_cidr(self) -> str:
        second = 231 if self.base_dir.resolve() == DEFAULT_BASE_DIR else 232 + int(self._dir_hash, 16) % 20
        return f"10.{second}.{self.index}.1/24"

    # -- state ------------------------------------------------------------- #
    def pid(self) -> int | None:
        """Pid of this node's live dockerd, or None."""
        try:
            pid = int(self.pidfile.read_text().strip())
        except (OSError, ValueError):
            return None
        cmd = _cmdline(pid)
        if not _pid_alive(pid) or not cmd or Path(cmd[0]).name != "dockerd" or str(self.dir) not in " ".join(cmd):
            return None
        return pid

    def is_running(self) -> bool:
        """True when the engine answers a ping on its socket."""
        return ping(self.url)

    def processes(self) -> list[int]:
        """Pids of every process of this node: dockerd, containerd, shims and containers."""
        marker = f"{self.dir}/"
        roots = [
            int(e)
            for e in os.listdir("/proc")
            if e.isdigit()
            and (cmd := _cmdline(int(e)))
            and Path(cmd[0]).name in _NODE_EXECUTABLES
            and any(marker in a or a == str(self.dir) for a in cmd)
        ]
        children, found, todo = _children_map(), set(), list(roots)
        while todo:
            pid = todo.pop()
            if pid not in found and pid != os.getpid():
                found.add(pid)
                todo.extend(children.get(pid, []))
        return sorted(found)

    def container_processes(self) -> list[int]:
        """Pids of the processes running inside this node's containers."""
        children = _children_map()
        shims = [p for p in self.processes() if Path((_cmdline(p) or [""])[0]).name.startswith("containerd-shim")]
        found: set[int] = set()
        todo = [c for s in shims for c in children.get(s, [])]
        while todo:
            pid = todo.pop()
            if pid not in found:
                found.add(pid)
                todo.extend(children.get(pid, []))
        return sorted(found)

    # -- lifecycle --------------------------------------------------------- #
    def ensure_bridge(self) -> None:
        res: subprocess.CompletedProcess[str] | None
        if _run(["ip", "link", "show", self.bridge]).returncode != 0:
            res = _run(["ip", "link", "add", "name", self.bridge, "type", "bridge"])
            if res.returncode != 0 and "exists" not in res.stderr:
                raise NodeError(
                    f"node {self.name}: cannot create bridge {self.bridge}: {res.stderr.strip()}"
                    " (are you root? is iproute2 installed?)"
                )
        if self.bridge_cidr in _run(["ip", "-o", "addr", "show", "dev", self.bridge]).stdout:
            res = None
        else:
            res = _run(["ip", "addr", "add", self.bridge_cidr, "dev", self.bridge])
        if res is not None and res.returncode != 0 and "already" not in res.stderr:
            raise NodeError(f"node {self.name}: cannot address bridge {self.bridge}: {res.stderr.strip()}")
        _run(["ip", "link", "set", self.bridge, "up"])

    def remove_bridge(self) -> None:
        _run(["ip", "link", "del", self.bridge])

    def dockerd_command(self) -> list[str]:
        return [
            shutil.which("dockerd") or "dockerd",
            "--data-root",
            str(self.data_root),
            "--exec-root",
            str(self.exec_root),
            "-H",
            self.url,
            "--pidfile",
            str(self.pidfile),
            "--config-file",
            str(self.dir / "daemon.json"),  # ignore the host's /etc/docker
            "--bridge",
            self.bridge,
            "--iptables=false",
            "--ip6tables=false",
            "--ip-masq=false",
            "--userland-proxy=false",
            "--shutdown-timeout",
            "3",
            *self.extra_args,
            *(["-H", self.tcp_url] if self.tcp_port is not None else []),
        ]

    def start(self, timeout: float = 60) -> None:
        """Start dockerd unless it already answers; wait until it answers a ping."""
        if self.is_running():
            return
        if self.pid() is None:
            if not shutil.which("dockerd"):
                raise NodeError("dockerd not found; install it with 'apt-get install -y docker.io'")
            self._kill_leftovers()
            # Stale pidfiles of a killed node: dockerd refuses to start, or waits
            # for a dead containerd, while the recorded pid exists (zombie, reuse).
            self.pidfile.unlink(missing_ok=True)
            (self.exec_root / "containerd" / "containerd.pid").unlink(missing_ok=True)
            self.dir.mkdir(parents=True, exist_ok=True)
            (self.dir / "daemon.json").write_text("{}\n")
            self.ensure_bridge()
            with open(self.logfile, "ab") as log:
                log.write(f"--- {time.strftime('%Y-%m-%dT%H:%M:%S')} starting {self.name}\n".encode())
            pid: int | None = self._spawn_detached(self.dockerd_command())
        else:
            pid = None  # a dockerd is already starting up: just wait for it
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.is_running():
                return
            if pid is not None and not _pid_alive(pid):
                raise NodeError(
                    f"node {self.name}: dockerd exited during start;"
                    f" last log lines of {self.logfile}:\n{self.log_tail()}"
                )
            time.sleep(0.1)
        raise NodeError(
            f"node {self.name} ({self.url}) did not answer within {timeout}s; see {self.logfile}:\n{self.log_tail()}"
        )

    def _spawn_detached(self, cmd: Sequence[str]) -> int:
        # Started through a shell that exits at once: dockerd is re-parented to
        # init, outlives this process and never becomes our zombie.
        script = 'log=$1; shift; "$@" </dev/null >>"$log" 2>&1 & echo $!'
        res = subprocess.run(
            ["/bin/sh", "-c", script, "sh", str(self.logfile), *cmd],
            capture_output=True,
            text=True,
            start_new_session=True,
            check=False,
        )
        if res.returncode != 0 or not res.stdout.strip().isdigit():
            raise NodeError(f"node {self.name}: cannot spawn dockerd: {res.stderr.strip()}")
        return int(res.stdout.strip())

    def stop(self, timeout: float = 30, graceful: bool = False) -> None:
        """SIGTERM dockerd (SIGKILL after `timeout`); its containers die with it.

        By default the containers' processes are SIGKILLed first (exit 137), so a
        stop takes well under a second; `graceful=True` lets dockerd stop them
        itself, which takes ~10s per container that ignores SIGTERM (sh, sleep).
        """
        pid = self.pid()
        if pid is not None:
            if not graceful:
                victims = self.container_processes()
                _signal(victims, signal.SIGKILL)
                _wait_gone(victims, 5)
            _signal([pid], signal.SIGTERM)
            if not _wait_gone([pid], timeout):
                _signal([pid], signal.SIGKILL)
                _wait_gone([pid], 5)
        self._kill_leftovers()

    def kill(self) -> None:
        """Crash the node: SIGKILL dockerd, containerd, shims and containers at once."""
        pid = self.pid()
        _signal(([pid] if pid else []) + self.processes(), signal.SIGKILL)
        self._kill_leftovers()

    def _kill_leftovers(self) -> None:
        for _ in range(3):
            pids = self.processes()
            if not pids:
                break
            _signal(pids, signal.SIGKILL)
            _wait_gone(pids, 5)
        if self.processes():
            raise NodeError(f"node {self.name}: processes {self.processes()} survived SIGKILL")
        self._unmount_leftovers()

    def _unmount_leftovers(self) -> None:
        # A killed dockerd leaves its data-root bind mount, overlays and netns
        # files mounted; only called once no process of the node is left.
        prefix = f"{self.dir}/"
        try:
            with open("/proc/self/mountinfo") as f:
                points = [line.split()[4] for line in f]
        except OSError:
            return
        mine = [p.replace("\\040", " ") for p in points if p.startswith(prefix)]
        for point in sorted(set(mine), key=len, reverse=True):
            _run(["umount", "-l", point])

    def log_tail(self, lines: int = 15) -> str:
        try:
            return "\n".join(self.logfile.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"


# --------------------------------------------------------------------------- #
# Groups of nodes
# --------------------------------------------------------------------------- #


def _parallel(fn: Any, items: Sequence[Any]) -> list[Any]:
    if not items:
        return []
    with concurrent.futures.ThreadPoolExecutor(max_workers=len(items)) as pool:
        return list(pool.map(fn, items))


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def node_names(count: int) -> list[str]:
    return [f"node{i}" for i in range(count)]


def start_nodes(count: int = 3, base_dir: Path | str | None = None, timeout: float = 60) -> list[DockerNode]:
    """Start node0..node<count-1> in parallel (idempotent) and return them."""
    base = Path(base_dir) if base_dir else default_base_dir()
    nodes = [DockerNode(n, base) for n in node_names(count)]
    _parallel(lambda n: n.start(timeout), nodes)
    return nodes


def existing_nodes(base_dir: Path | str | None = None) -> list[DockerNode]:
    """Every node directory found under `base_dir` (a dir with a data-root or pidfile)."""
    base = Path(base_dir) if base_dir else default_base_dir()
    if not base.is_dir():
        return []
    dirs = [d for d in base.iterdir() if d.is_dir() and ((d / "data").exists() or (d / "dockerd.pid").exists())]
    return [DockerNode(d.name, base) for d in sorted(dirs, key=lambda d: (len(d.name), d.name))]


def stop_nodes(base_dir: Path | str | None = None, remove_bridges: bool = True) -> list[DockerNode]:
    """Stop every node found under `base_dir` in parallel; return them."""
    nodes = existing_nodes(base_dir)
    _parallel(lambda n: n.stop(), nodes)
    if remove_bridges:
        for n in nodes:
            n.remove_bridge()
    return nodes


def ensure_test_image(nodes: Sequence[DockerNode], tag: str = TEST_IMAGE) -> list[bool]:
    """Build the test image on every node in parallel (tarball built once)."""
    if nodes:
        rootfs_tarball(nodes[0].base_dir)
    return _parallel(lambda n: build_test_image(n.url, tag, n.base_dir), nodes)


def restart_stopped_nodes(nodes: Sequence[DockerNode], tag: str = TEST_IMAGE) -> list[DockerNode]:
    """Start every node that does not answer; return the ones restarted."""
    down = [n for n in nodes if not n.is_running()]
    _parallel(lambda n: n.start(), down)
    ensure_test_image(down, tag)
    return down


def nodes_env(nodes: Sequence[DockerNode]) -> str:
    """Value for MINIORCH_TEST_NODES: `node0=unix:///.../node0/docker.sock,node1=...`."""
    return ",".join(f"{n.name}={n.url}" for n in nodes)


def parse_nodes_env(value: str, base_dir: Path | str | None = None) -> list[DockerNode]:
    """Inverse of nodes_env. A bare `name` (no `=url`) means a node in `base_dir`."""
    nodes = []
    for item in filter(None, (p.strip() for p in value.split(","))):
        name, sep, url = item.partition("=")
        name = name.strip()
        if not sep:
            nodes.append(DockerNode(name, Path(base_dir) if base_dir else default_base_dir()))
            continue
        path = Path(urllib.parse.urlparse(url.strip()).path)
        if not url.startswith("unix://") or path.name != "docker.sock" or path.parent.name != name:
            raise NodeError(
                f"{ENV_NODES}: {item!r} is not a dockernodes node (expected {name}=unix://<dir>/{name}/docker.sock)"
            )
        nodes.append(DockerNode(name, path.parent.parent))
    if not nodes:
        raise NodeError(f"{ENV_NODES} is empty")
    return nodes


# --------------------------------------------------------------------------- #
# CLI
# --------------------------------------------------------------------------- #


def _status_line(n: DockerNode) -> str:
    return f"{n.name:8} {'up' if n.is_running() else 'down':5} pid={n.pid() or '-':<8} {n.url}"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--dir", type=Path, default=None, help=f"base dir (default ${ENV_BASE_DIR} or {DEFAULT_BASE_DIR})"
    )
    sub = parser.add_subparsers(dest="cmd", required=True)
    p_start = sub.add_parser("start", help="start N nodes, build the test image, write nodes.env")
    p_start.add_argument("--count", "-n", type=int, default=3)
    p_start.add_argument("--tag", default=TEST_IMAGE)
    sub.add_parser("stop", help="stop every node in the base dir")
    sub.add_parser("status", help="list nodes (exit 1 if any is down)")
    sub.add_parser("env", help="print MINIORCH_TEST_NODES=... for the existing nodes")
    for name in ("stop-node", "start-node", "kill-node"):
        sub.add_parser(name).add_argument("name")
    p_img = sub.add_parser("build-image", help="import the busybox test image into an engine")
    p_img.add_argument("--url", default="unix:///var/run/docker.sock")
    p_img.add_argument("--tag", default=TEST_IMAGE)
    args = parser.parse_args(argv)
    base: Path = (args.dir or default_base_dir()).absolute()

    try:
        if args.cmd == "start":
            t0 = time.monotonic()
            nodes = start_nodes(args.count, base)
            t1 = time.monotonic()
            built = ensure_test_image(nodes, args.tag)
            t2 = time.monotonic()
            line = f"{ENV_NODES}={nodes_env(nodes)}"
            (base / NODES_ENV_FILE).write_text(line + "\n")
            print(
                f"started {len(nodes)} nodes in {t1 - t0:.1f}s; image {args.tag} imported on"
                f" {sum(built)} node(s) in {t2 - t1:.1f}s; wrote {base / NODES_ENV_FILE}",
                file=sys.stderr,
            )
            print(line)
        elif args.cmd == "stop":
            stopped = stop_nodes(base)
            (base / NODES_ENV_FILE).unlink(missing_ok=True)
            print(f"stopped {len(stopped)} node(s) in {base}", file=sys.stderr)
        elif args.cmd == "status":
            nodes = existing_nodes(base)
            for n in nodes:
                print(_status_line(n))
            return 0 if nodes and all(n.is_running() for n in nodes) else 1
        elif args.cmd == "env":
            print(f"{ENV_NODES}={nodes_env(existing_nodes(base))}")
        elif args.cmd in ("stop-node", "start-node", "kill-node"):
            node = DockerNode(args.name, base)
            {"stop-node": node.stop, "kill-node": node.kill}.get(args.cmd, node.start)()
            if args.cmd == "start-node":
                build_test_image(node.url, cache_dir=base)
            print(_status_line(node))
        elif args.cmd == "build-image":
            imported = build_test_image(args.url, args.tag, base)
            print(f"{args.tag} {'imported' if imported else 'already present'} on {args.url}", file=sys.stderr)
    except NodeError as exc:
        print(f"dockernodes: error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
