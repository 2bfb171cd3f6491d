"""Real `/usr/bin/kubectl` and the official `kubernetes` client against a miniorch API over TLS.

`Pki` is a trustme CA and a server certificate for 127.0.0.1; `Kubectl` writes a kubeconfig
(server, CA, bearer token) and runs kubectl with it. kubectl missing is a failure, never a skip.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import trustme
import yaml

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
