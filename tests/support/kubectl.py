"""Real `/usr/bin/kubectl` and the official `kubernetes` client against a miniorch API over TLS.

`Pki` is a trustme CA and a server certificate for 127.0.0.1; `tls_daemon` runs a daemon whose
TCP listener speaks TLS with them; `Kubectl` writes a kubeconfig (server, CA, bearer token) and
runs kubectl with it. kubectl missing is a failure, never a skip.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import docker
import trustme
import yaml

from support import dockernodes
from support.daemon import Daemon

KUBECTL = "/usr/bin/kubectl"
TOKEN = "miniorch-test-token-0123456789abcdef"


@dataclass(frozen=True)
class Pki:
    ca: Path
    cert: Path
    key: Path
    token_file: Path


def make_pki(directory: Path) -> Pki:
    directory.mkdir(parents=True, exist_ok=True)
    ca = trustme.CA()
    leaf = ca.issue_cert("127.0.0.1", "localhost")
    pki = Pki(directory / "ca.pem", directory / "server.pem", directory / "server-key.pem", directory / "token")
    ca.cert_pem.write_to_path(str(pki.ca))
    leaf.cert_chain_pems[0].write_to_path(str(pki.cert))
    leaf.private_key_pem.write_to_path(str(pki.key))
    pki.key.chmod(0o600)
    pki.token_file.write_text(TOKEN + "\n")
    pki.token_file.chmod(0o600)
    return pki


@contextlib.contextmanager
def tls_daemon(tmp_path: Path, nodes: list[dockernodes.DockerNode]) -> Iterator[tuple[Daemon, str, Path]]:
    """A daemon on `nodes` whose TCP listener speaks TLS (a trustme CA) with the token: (daemon,
    base URL, CA file). Stopped afterwards, and its containers removed from the nodes."""
    pki = make_pki(tmp_path / "pki")
    port = dockernodes.free_port()
    api = {
        "socket": str(tmp_path / "run" / "miniorch.sock"),
        "tcp": f"127.0.0.1:{port}",
        "token_file": str(pki.token_file),
        "tls_cert": str(pki.cert),
        "tls_key": str(pki.key),
    }
    d = Daemon(tmp_path, [(n.name, n.url) for n in nodes], extra={"api": api})
    d.start(timeout=90)  # two cores shared by many: the nodes' first probes can be slow
    try:
        yield d, f"https://127.0.0.1:{port}", pki.ca
    finally:
        if d.proc is not None and d.proc.poll() is None:
            d.stop()
        for node in nodes:
            with dockernodes.client(node.url) as c:
                for ctr in c.containers.list(all=True, filters={"label": "miniorch.io/managed=true"}):
                    with contextlib.suppress(docker.errors.NotFound):
                        ctr.remove(force=True)


def kubeconfig(server: str, ca: Path, token: str = TOKEN) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "miniorch", "cluster": {"server": server, "certificate-authority": str(ca)}}],
        "users": [{"name": "miniorch", "user": {"token": token}}],
        "contexts": [{"name": "miniorch", "context": {"cluster": "miniorch", "user": "miniorch"}}],
        "current-context": "miniorch",
    }


class Kubectl:
    def __init__(self, workdir: Path, server: str, ca: Path, token: str = TOKEN) -> None:
        assert shutil.which(KUBECTL) or Path(KUBECTL).exists(), f"{KUBECTL} is missing: these tests need real kubectl"
        self.path = workdir / "kubeconfig.yaml"
        self.path.write_text(yaml.safe_dump(kubeconfig(server, ca, token)))
        self.workdir = workdir
        self.cache = workdir / "kube-cache"

    def env(self) -> dict[str, str]:
        return {**os.environ, "KUBECONFIG": str(self.path), "HOME": str(self.workdir)}

    def run(
        self, *args: str, check: bool = True, timeout: float = 60, input: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        cmd = [KUBECTL, f"--cache-dir={self.cache}", *args]
        result = subprocess.run(cmd, capture_output=True, text=True, env=self.env(), timeout=timeout, input=input)
        if check and result.returncode != 0:
            raise AssertionError(
                f"kubectl {' '.join(args)} exited {result.returncode}:\n{result.stderr}{result.stdout}"
            )
        return result

    def popen(self, *args: str) -> subprocess.Popen[str]:
        cmd = [KUBECTL, f"--cache-dir={self.cache}", *args]
        return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=self.env())
