"""Node trust rules in the config file: what each URL needs, and one-line refusals naming node, key and fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from miniorch import config


@pytest.fixture
def pem(tmp_path: Path) -> dict[str, Path]:
    """Readable stand-ins for the PEM files and a private SSH key (mode 0600)."""
    files = {name: tmp_path / f"{name}.pem" for name in ("ca", "cert", "key")}
    files["identity"] = tmp_path / "id_ed25519"
    files["known_hosts"] = tmp_path / "known_hosts"
    for path in files.values():
        path.write_text("x")
    files["identity"].chmod(0o600)
    return files


def _load(tmp_path: Path, node: str) -> config.Config:
    path = tmp_path / "miniorch.yaml"
    path.write_text("nodes:\n  - name: edge-1\n" + "".join(f"    {line}\n" for line in node.strip().splitlines()))
    return config.load(path)


def _error(tmp_path: Path, node: str) -> str:
    with pytest.raises(config.ConfigError) as info:
        _load(tmp_path, node)
    return str(info.value)


GOOD = [
    ("url: unix:///var/run/docker.sock", "unix"),
    ("url: tcp://edge-1:2376\ntls: {{ca: {ca}, cert: {cert}, key: {key}}}", "tls"),
    ("url: tcp://edge-1:2376\ntls: {{ca: {ca}, cert: {cert}, key: {key}, server_name: e1.example}}", "tls"),
    ("url: tcp://10.0.0.7:2375\ninsecure: true", "tcp-insecure"),
    ("url: ssh://miniorch@edge-1:2222\nssh: {{identity_file: {identity}, known_hosts: {known_hosts}}}", "ssh"),
    ("url: ssh://edge-1\nssh: {{identity_file: {identity}}}", "ssh"),
]


@pytest.mark.parametrize(("node", "transport"), GOOD)
def test_trusted_node_entries_load_with_their_transport(
    tmp_path: Path, pem: dict[str, Path], node: str, transport: str
) -> None:
    """A node entry with what its URL needs loads, and names its transport as ctl shows it."""
    cfg = _load(tmp_path, node.format(**pem))
    assert cfg.nodes[0].transport == transport


BAD = [
    ("url: tcp://edge-1:2376", "the tls block is missing", "insecure: true"),
    ("url: tcp://edge-1:2376\ntls: {{cert: {cert}, key: {key}}}", "tls.ca is missing", "tls.ca"),
    ("url: tcp://edge-1:2376\ntls: {{ca: {ca}, key: {key}}}", "tls.cert is missing", "tls.cert"),
    ("url: tcp://edge-1:2376\ntls: {{ca: {ca}, cert: {cert}}}", "tls.key is missing", "tls.key"),
    ("url: tcp://edge-1:2376\ntls: {{ca: /nonexistent/ca.pem, cert: {cert}, key: {key}}}", "does not exist", "tls.ca"),
    ("url: tcp://edge-1:2376\ntls: {{ca: {ca}, cert: /nonexistent/c.pem, key: {key}}}", "does not exist", "tls.cert"),
    ("url: tcp://edge-1:2376\ntls: {{ca: {ca}, cert: {cert}, key: /nonexistent/k.pem}}", "does not exist", "tls.key"),
    ("url: tcp://edge-1:2376\ntls: {{ca: {ca}, cert: {cert}, key: {key}}}\ninsecure: true", "contradict", "remove"),
    ("url: tcp://edge-1\ninsecure: true", "needs a port", "tcp://edge-1:2376"),
    ("url: ssh://edge-1", "ssh.identity_file is missing", "identity_file"),
    ("url: ssh://edge-1\nssh: {{identity_file: /nonexistent/id}}", "does not exist", "ssh.identity_file"),
    (
        "url: ssh://edge-1\nssh: {{identity_file: {identity}, known_hosts: /nonexistent/kh}}",
        "does not exist",
        "ssh.known_hosts",
    ),
    ("url: ssh://edge-1:port\nssh: {{identity_file: {identity}}}", "not of the form", "ssh://[USER@]HOST[:PORT]"),
    ("url: unix:///run/docker.sock\ninsecure: true", "tcp:// nodes only", "remove it"),
    ("url: unix:///run/docker.sock\ntls: {{ca: {ca}}}", "tcp:// nodes only", "remove the tls block"),
    ("url: tcp://edge-1:2376\ninsecure: true\nssh: {{identity_file: {identity}}}", "ssh:// nodes only", "remove"),
    ("url: https://edge-1:2376", "not a Docker URL", "tcp://"),
]


@pytest.mark.parametrize(("node", "problem", "fix"), BAD)
def test_untrusted_node_entries_are_refused_in_one_line(
    tmp_path: Path, pem: dict[str, Path], node: str, problem: str, fix: str
) -> None:
    """A node entry that would leave the engine unverified is refused with one line naming node, problem and fix."""
    message = _error(tmp_path, node.format(**pem))
    assert "\n" not in message
    assert "nodes[0]" in message and (problem in message) and (fix in message)
    if "not a Docker URL" not in problem:
        assert "node 'edge-1'" in message


@pytest.mark.parametrize("mode", [0o640, 0o604, 0o644])
def test_an_identity_file_others_can_read_is_refused_with_the_chmod_to_run(
    tmp_path: Path, pem: dict[str, Path], mode: int
) -> None:
    """ssh.identity_file readable by group or others is refused, as ssh itself would, naming the chmod."""
    pem["identity"].chmod(mode)
    message = _error(tmp_path, f"url: ssh://edge-1\nssh: {{identity_file: {pem['identity']}}}")
    assert "readable by others" in message and f"chmod 600 {pem['identity']}" in message


def test_an_unreadable_key_file_is_refused(tmp_path: Path, pem: dict[str, Path]) -> None:
    """A TLS key the daemon cannot read is refused at load, not at the first call (/proc/self/mem fails
    to read even for root)."""
    message = _error(tmp_path, "url: tcp://e:2376\ntls: {{ca: {ca}, cert: {cert}, key: /proc/self/mem}}".format(**pem))
    assert "tls.key" in message and "cannot be read" in message


def test_a_key_path_that_is_a_directory_is_refused(tmp_path: Path, pem: dict[str, Path]) -> None:
    """A directory where a PEM file belongs is refused naming the key."""
    message = _error(tmp_path, "url: tcp://e:2376\ntls: {{ca: {ca}, cert: {cert}, key: {d}}}".format(d=tmp_path, **pem))
    assert "tls.key" in message and "is a directory" in message
