"""An OpenSSH server on 127.0.0.1:<free port> standing in for a remote Docker host.

It has its own host key, sshd_config and one authorized key; `SetEnv DOCKER_HOST`
points its sessions at a test node's socket, so `docker system dial-stdio` works
as on a real remote host. Also made here: a second host key (to fake a reinstalled
host) and a key that is not authorized (a refused login). Stopped by its pid.
"""

from __future__ import annotations

import signal
import socket
import subprocess
import time
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from support import dockernodes, tlsdocker

SSHD = "/usr/sbin/sshd"


def write_key(path: Path) -> str:
    """A new ed25519 private key in OpenSSH format (mode 0600); returns its public line."""
    key = ed25519.Ed25519PrivateKey.generate()
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH, serialization.NoEncryption()
    )
    path.write_bytes(pem)
    path.chmod(0o600)
    public = key.public_key().public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
    return public.decode()


class SshServer:
    """sshd for user `user` whose sessions talk to the engine at `docker_socket`."""

    def __init__(self, directory: Path, docker_socket: Path, user: str = "root") -> None:
        self.dir = directory
        self.dir.mkdir(parents=True, exist_ok=True)
        self.dir.chmod(0o700)
        self.user = user
        self.docker_socket = docker_socket
        self.port = tlsdocker.free_port()
        self.host_key = self.dir / "host_ed25519"
        self.other_host_key = self.dir / "other_host_ed25519"
        self.identity = self.dir / "id_ed25519"
        self.stranger = self.dir / "stranger_ed25519"
        self.known_hosts = self.dir / "known_hosts"
        self.log = self.dir / "sshd.log"
        self.host_public = write_key(self.host_key)
        self.other_host_public = write_key(self.other_host_key)
        (self.dir / "authorized_keys").write_text(write_key(self.identity) + " miniorch-test\n")
        write_key(self.stranger)
        self.known_hosts.write_text(f"[127.0.0.1]:{self.port} {self.host_public}\n")
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"ssh://{self.user}@127.0.0.1:{self.port}"

    def _config(self, host_key: Path) -> Path:
        path = self.dir / "sshd_config"
        path.write_text(
            "\n".join(
                [
                    f"Port {self.port}",
                    "ListenAddress 127.0.0.1",
                    f"HostKey {host_key}",
                    f"PidFile {self.dir / 'sshd.pid'}",
                    f"AuthorizedKeysFile {self.dir / 'authorized_keys'}",
                    f"AllowUsers {self.user}",
                    "PermitRootLogin prohibit-password",
                    "PubkeyAuthentication yes",
                    "PasswordAuthentication no",
                    "KbdInteractiveAuthentication no",
                    "UsePAM no",
                    "StrictModes no",  # the test keys live under /tmp
                    "AllowAgentForwarding no",
                    "X11Forwarding no",
                    "PrintMotd no",
                    f"SetEnv DOCKER_HOST=unix://{self.docker_socket}",
                    "LogLevel VERBOSE",
                    "",
                ]
            )
        )
        return path

    def start(self, host_key: Path | None = None, timeout: float = 10) -> None:
        """Run sshd in the foreground of a child process; wait until it accepts connections."""
        Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)  # its privilege-separation dir
        config = self._config(host_key or self.host_key)
        check = subprocess.run([SSHD, "-t", "-f", str(config)], capture_output=True, text=True, check=False)
        if check.returncode != 0:
            raise RuntimeError(f"sshd refused its test config: {check.stderr.strip()}")
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen([SSHD, "-D", "-e", "-f", str(config)], stdout=log, stderr=log)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"sshd exited with {self.proc.returncode}: {self.log.read_text()[-2000:]}")
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", self.port)) == 0:
                    return
            time.sleep(0.05)
        raise RuntimeError(f"sshd did not listen on 127.0.0.1:{self.port} within {timeout}s")

    def stop(self) -> None:
        """Stop sshd and its sessions (as a host going down would): by the pids of its process tree."""
        if self.proc is not None and self.proc.poll() is None:
            sessions = _descendants(self.proc.pid)
            dockernodes._signal(sessions, signal.SIGKILL)
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.proc = None

    def restart(self, host_key: Path | None = None) -> None:
        self.stop()
        self.start(host_key)

    def node_config(self, name: str, **ssh: str) -> dict[str, object]:
        """A daemon config entry for this host; `ssh` keys override the good files."""
        files = {"identity_file": str(self.identity), "known_hosts": str(self.known_hosts)}
        return {"name": name, "url": self.url, "ssh": {**files, **ssh}}


def _descendants(pid: int) -> list[int]:
    children = dockernodes._children_map()
    found: list[int] = []
    todo = list(children.get(pid, []))
    while todo:
        child = todo.pop()
        found.append(child)
        todo.extend(children.get(child, []))
    return found


class Agent:
    """An ssh-agent holding `key`, on a socket in `directory`; stopped by its pid."""

    def __init__(self, directory: Path, key: Path) -> None:
        self.socket = directory / "agent.sock"
        self.proc = subprocess.Popen(
            ["ssh-agent", "-D", "-a", str(self.socket)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        deadline = time.monotonic() + 10
        while not self.socket.exists() and time.monotonic() < deadline:
            time.sleep(0.02)
        env = {"SSH_AUTH_SOCK": str(self.socket), "PATH": "/usr/bin:/bin"}
        added = subprocess.run(["ssh-add", str(key)], env=env, capture_output=True, text=True, check=False)
        if added.returncode != 0:
            self.stop()
            raise RuntimeError(f"ssh-add failed: {added.stderr.strip()}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(5)
