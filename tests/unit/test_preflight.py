"""Pre-flight checks: every problem with the files a config names, found without touching a node."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Callable
from pathlib import Path

import pydantic
import pytest
import yaml

from miniorch import config, preflight

TOKEN = "0123456789abcdef0123456789abcdef"


def source(tmp_path: Path, values: dict[str, object]) -> config.Source:
    """A config file in tmp_path with `values` plus a writable state_dir and socket folder."""
    extra_api: dict[str, object] = values.pop("api", {})  # type: ignore[assignment]
    api = {"socket": str(tmp_path / "run/m.sock"), **extra_api}
    path = tmp_path / "miniorch.yaml"
    path.write_text(yaml.safe_dump({"state_dir": str(tmp_path / "state"), **values, "api": api}))
    return config.Source(path, "--config")


def token_file(tmp_path: Path, text: str = TOKEN, mode: int = 0o600) -> str:
    path = tmp_path / "token"
    path.write_text(text)
    path.chmod(mode)
    return str(path)


def tls_pair(tmp_path: Path) -> tuple[str, str]:
    """A self-signed certificate and its key (openssl)."""
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=127.0.0.1",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    return str(cert), str(key)


def a_file(tmp_path: Path) -> str:
    path = tmp_path / "plain-file"
    path.write_text("x")
    return str(path)


def open_folder(tmp_path: Path) -> str:
    path = tmp_path / "open"
    path.mkdir()
    path.chmod(0o777)
    return str(path / "m.sock")


Case = Callable[[Path], dict[str, object]]
CASES: list[tuple[str, Case, str]] = [
    (
        "world-readable token",
        lambda t: {"api": {"tcp": "127.0.0.1:7390", "token_file": token_file(t, mode=0o644)}},
        "api.token_file .* is readable by everyone; fix it with 'chmod 600",
    ),
    (
        "short token",
        lambda t: {"api": {"tcp": "127.0.0.1:7390", "token_file": token_file(t, "short")}},
        "api.token_file .* shorter than 16 characters; make one with 'openssl rand",
    ),
    (
        "missing token",
        lambda t: {"api": {"tcp": "127.0.0.1:7390", "token_file": str(t / "none")}},
        "cannot read api.token_file .*: No such file",
    ),
    (
        "missing TLS key",
        lambda t: {"api": {"tls_cert": tls_pair(t)[0], "tls_key": str(t / "none.pem")}},
        "api.tls_key: cannot read .*none.pem: No such file or directory; check the path",
    ),
    (
        "TLS files that are no PEM pair",
        lambda t: {"api": {"tls_cert": a_file(t), "tls_key": a_file(t)}},
        "api.tls_cert/api.tls_key: .* are not a PEM certificate and its private key",
    ),
    (
        "world-writable socket folder",
        lambda t: {"api": {"socket": open_folder(t)}},
        "api.socket: the folder .*open is world-writable and not sticky; fix it with 'chmod o-w",
    ),
    (
        "socket folder under a file",
        lambda t: {"api": {"socket": a_file(t) + "/run/m.sock"}},
        "api.socket: .* cannot be created: .*plain-file is not a folder",
    ),
    (
        "unknown socket group",
        lambda t: {"api": {"socket_group": "no-such-group-xyz"}},
        "api.socket_group: there is no group 'no-such-group-xyz'; create it",
    ),
    ("state_dir is a file", lambda t: {"state_dir": a_file(t)}, "state_dir: .*plain-file is not a folder"),
    (
        "state_dir under a file",
        lambda t: {"state_dir": a_file(t) + "/state"},
        "state_dir: .*plain-file/state cannot be created: .*plain-file is not a folder",
    ),
    (
        "manifests_dir is a file",
        lambda t: {"manifests_dir": a_file(t)},
        "manifests_dir: .*plain-file is not a folder; point manifests_dir at the folder",
    ),
    (
        "SQLite file in a file",
        lambda t: {"database": f"sqlite:///{a_file(t)}/m.db"},
        "database: .*plain-file is not a folder",
    ),
]


@pytest.mark.parametrize(("what", "values", "pattern"), CASES, ids=[c[0] for c in CASES])
def test_each_unusable_file_or_folder_is_one_problem_naming_file_key_and_fix(
    tmp_path: Path, what: str, values: Case, pattern: str
) -> None:
    """A config whose key names an unusable file or folder is refused with one line: file, key, fix."""
    src = source(tmp_path, values(tmp_path))
    with pytest.raises(config.ConfigError) as info:
        preflight.validate(src)
    (problem,) = info.value.problems
    assert problem.startswith(f"config file {src.path}: ")
    assert re.search(pattern, problem), problem


def test_usable_files_pass(tmp_path: Path) -> None:
    """A readable 0600 token, a matching TLS pair, existing folders and a missing watched folder are fine."""
    cert, key = tls_pair(tmp_path)
    (tmp_path / "jobs.d").mkdir()
    values: dict[str, object] = {
        "api": {"tcp": "127.0.0.1:7390", "token_file": token_file(tmp_path), "tls_cert": cert, "tls_key": key},
        "manifests_dir": str(tmp_path / "jobs.d"),
    }
    assert preflight.validate(source(tmp_path, values)).api.tls_cert == Path(cert)
    assert preflight.validate(source(tmp_path, {"manifests_dir": str(tmp_path / "not-yet")}))


def test_all_problems_are_reported_at_once(tmp_path: Path) -> None:
    """Three bad keys give three lines, not one at a time over three restarts."""
    values: dict[str, object] = {
        "state_dir": a_file(tmp_path),
        "manifests_dir": a_file(tmp_path),
        "api": {"tcp": "127.0.0.1:7390", "token_file": token_file(tmp_path, mode=0o644)},
    }
    with pytest.raises(config.ConfigError) as info:
        preflight.validate(source(tmp_path, values))
    keys = sorted(p.split(": ", 2)[1].split(" ")[0] for p in info.value.problems)
    assert keys == ["api.token_file", "manifests_dir", "state_dir"]


def test_missing_file_named_by_the_environment_says_so(tmp_path: Path) -> None:
    """$MINIORCH_CONFIG naming no file is an error that points at the variable."""
    src = config.resolve(None, {"MINIORCH_CONFIG": str(tmp_path / "none.yaml")}, tmp_path / "etc.yaml")
    with pytest.raises(config.ConfigError, match=r"cannot read config file .*none.yaml.*\$MINIORCH_CONFIG"):
        preflight.validate(src)


def test_a_database_password_file_readable_by_everyone_is_refused_before_anything_runs(tmp_path: Path) -> None:
    secret = tmp_path / "db-password"
    secret.write_text("hunter2-long-enough\n")
    secret.chmod(0o644)
    cfg = config.Config(
        state_dir=tmp_path / "state",
        manifests_dir=tmp_path,
        database="postgresql://miniorch@127.0.0.1:1/miniorch",
        database_password_file=secret,
        api=config.ApiConfig(socket=tmp_path / "run" / "m.sock"),
    )
    problems = preflight.check(cfg)
    assert any("database_password_file" in p and "chmod 600" in p for p in problems)
    assert all("hunter2" not in p for p in problems)
    secret.chmod(0o600)
    assert not [p for p in preflight.check(cfg) if "database_password_file" in p]


def test_ha_needs_a_shared_postgresql_database() -> None:
    with pytest.raises(pydantic.ValidationError, match="ha.enabled needs a shared database"):
        config.Config(ha=config.HaConfig(enabled=True))
