"""A Docker Engine test node listening on 127.0.0.1:<free port> with `--tlsverify`.

The certificates are made here (trustme): a CA, the engine's certificate for
127.0.0.1 and `engine.test` (not `localhost`, so that `tls.server_name` is needed,
and tested, for `tcp://localhost:PORT`), a client certificate, a second CA and a
client certificate it signed (which the engine refuses), and an expired engine certificate.
"""

from __future__ import annotations

import datetime as dt
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import trustme

from support import dockernodes

SERVER_NAMES = ("127.0.0.1", "engine.test")


@dataclass(frozen=True)
class Pki:
    """PEM files, by role."""

    dir: Path
    ca: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path
    other_ca: Path
    expired_cert: Path
    expired_key: Path
    foreign_cert: Path  # a client certificate the second CA signed: the engine refuses it
    foreign_key: Path


def _write_leaf(leaf: trustme.LeafCert, cert: Path, key: Path) -> None:
    leaf.cert_chain_pems[0].write_to_path(str(cert))
    leaf.private_key_pem.write_to_path(str(key))
    key.chmod(0o600)


def make_pki(directory: Path) -> Pki:
    """Write a CA, engine and client certificates and the bad ones into `directory`."""
    directory.mkdir(parents=True, exist_ok=True)
    ca, other = trustme.CA(), trustme.CA()
    pki = Pki(
        directory,
        directory / "ca.pem",
        directory / "server-cert.pem",
        directory / "server-key.pem",
        directory / "cert.pem",
        directory / "key.pem",
        directory / "other-ca.pem",
        directory / "expired-cert.pem",
        directory / "expired-key.pem",
        directory / "foreign-cert.pem",
        directory / "foreign-key.pem",
    )
    ca.cert_pem.write_to_path(str(pki.ca))
    other.cert_pem.write_to_path(str(pki.other_ca))
    _write_leaf(ca.issue_cert(*SERVER_NAMES), pki.server_cert, pki.server_key)
    _write_leaf(ca.issue_cert("miniorch.client.test"), pki.client_cert, pki.client_key)  # Go refuses an empty SAN
    past = dt.datetime.now(dt.UTC) - dt.timedelta(days=30)
    expired = ca.issue_cert(*SERVER_NAMES, not_before=past, not_after=past + dt.timedelta(days=1))
    _write_leaf(expired, pki.expired_cert, pki.expired_key)
    _write_leaf(other.issue_cert("miniorch.client.test"), pki.foreign_cert, pki.foreign_key)
    return pki


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class TlsNode:
    """A dockerd in the test nodes' base dir, on its unix socket and on TLS at 127.0.0.1:port."""

    def __init__(self, base_dir: Path, pki: Pki, name: str = "tls40") -> None:
        self.pki = pki
        self.port = free_port()
        self.name = name
        self.node = self._node(pki.server_cert, pki.server_key, base_dir)

    def _node(self, cert: Path, key: Path, base_dir: Path) -> dockernodes.DockerNode:
        args = ("-H", f"tcp://127.0.0.1:{self.port}", "--tlsverify", "--tlscacert", str(self.pki.ca))
        return dockernodes.DockerNode(
            self.name, base_dir, extra_args=(*args, "--tlscert", str(cert), "--tlskey", str(key))
        )

    @property
    def url(self) -> str:
        return f"tcp://127.0.0.1:{self.port}"

    def start(self, cert: Path | None = None, key: Path | None = None) -> None:
        """Start the engine serving `cert` (default: the good one); the test image imported."""
        self.node = self._node(cert or self.pki.server_cert, key or self.pki.server_key, self.node.base_dir)
        self.node.start()
        dockernodes.build_test_image(self.node.url, cache_dir=self.node.base_dir)

    def restart(self, cert: Path | None = None, key: Path | None = None) -> None:
        self.node.stop()
        self.start(cert, key)

    def stop(self) -> None:
        self.node.stop()
        self.node.remove_bridge()

    def node_config(self, name: str = "", url: str = "", **tls: Any) -> dict[str, Any]:
        """A daemon config entry for this engine; `tls` keys override the good certificates."""
        files = {"ca": str(self.pki.ca), "cert": str(self.pki.client_cert), "key": str(self.pki.client_key)}
        return {"name": name or self.name, "url": url or self.url, "tls": {**files, **tls}}
