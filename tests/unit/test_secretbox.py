"""The Secret key file (made 0600, loose modes and non-keys refused, pre-flight says so) and sealing itself."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from miniorch import config as config_mod
from miniorch import preflight
from miniorch.store import secretbox

MANIFEST = {
    "apiVersion": "v1",
    "kind": "Secret",
    "metadata": {"name": "s", "annotations": {"a": "b"}},
    "data": {"k": "dmFsdWU="},
}


def test_the_key_is_made_0600_once_and_read_back(tmp_path: Path) -> None:
    path = tmp_path / "state" / "secret.key"
    key = secretbox.load_or_create_key(path)
    assert os.stat(path).st_mode & 0o777 == 0o600
    assert secretbox.load_or_create_key(path) == key


@pytest.mark.parametrize(
    ("content", "mode", "problem"),
    [
        (None, 0o640, "is readable by group or others (mode 0640); fix it with 'chmod 600 {path}'"),
        (None, 0o604, "is readable by group or others (mode 0604); fix it with 'chmod 600 {path}'"),
        (b"not a key\n", 0o600, "does not hold a Fernet key (32 url-safe base64 bytes); restore the right file"),
    ],
)
def test_a_loose_or_wrong_key_file_is_refused_before_start(
    tmp_path: Path, content: bytes | None, mode: int, problem: str
) -> None:
    """`--check-config` and the start refuse it with one line naming secrets.key_file and the fix."""
    path = tmp_path / "secret.key"
    secretbox.load_or_create_key(path)
    if content is not None:
        path.write_bytes(content)
    path.chmod(mode)
    config = config_mod.Config(state_dir=tmp_path, manifests_dir=tmp_path, secrets={"key_file": path})  # type: ignore[arg-type]
    expected = f"secrets.key_file {path} " + problem.format(path=path)
    assert expected in preflight.check(config)
    with pytest.raises(secretbox.SecretsKeyError, match="secrets.key_file"):
        secretbox.load_or_create_key(path)


def test_sealing_hides_data_and_last_applied_and_opens_back(tmp_path: Path) -> None:
    box = secretbox.SecretBox(secretbox.load_or_create_key(tmp_path / "k"))
    manifest = {
        **MANIFEST,
        "metadata": {
            "name": "s",
            "annotations": {"a": "b", "kubectl.kubernetes.io/last-applied-configuration": '{"data":{"k":"dmFsdWU="}}'},
        },
    }
    sealed = box.seal(manifest)
    assert "dmFsdWU=" not in str(sealed) and sealed["metadata"]["annotations"] == {"a": "b"}
    assert box.open(sealed) == manifest
    job = {"kind": "Job", "spec": {}}
    assert box.seal(job) is job and box.open(job) is job
    other = secretbox.SecretBox(secretbox.load_or_create_key(tmp_path / "other"), "/etc/other.key")
    with pytest.raises(secretbox.SecretsKeyError, match="cannot be opened with the key in /etc/other.key"):
        other.open(sealed)
